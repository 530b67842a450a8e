"""Renders the fixture cases of the given templates (default: qwen3) with
Python's Jinja2, configured as transformers configures it, and prints
where @huggingface/jinja's outputs in ../fixtures.json differ. Those
differences are the ones fixtures_test.go lists in jsDeviations.

Run: python3 jinja2_check.py [template ...]   (Debian: python3-jinja2)
"""
import json
import sys
from pathlib import Path

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

here = Path(__file__).parent


class Raised(Exception):
    pass


def raise_exception(message):
    raise Raised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' tojson filter
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

fixtures = json.loads((here / ".." / "fixtures.json").read_text())
wanted = set(sys.argv[1:] or ["qwen3"])
checked = differ = 0
for c in fixtures["cases"]:
    if c["template"] not in wanted:
        continue
    src = (here / ".." / "templates" / (c["template"] + ".jinja")).read_text()
    ctx = dict(
        messages=fixtures["conversations"][c["conversation"]],
        bos_token=c["bos"],
        eos_token=c["eos"],
        add_generation_prompt=c["add_generation_prompt"],
    )
    for k in ("enable_thinking", "tools"):
        if k in c:
            ctx[k] = c[k]
    try:
        got = {"output": env.from_string(src).render(**ctx)}
    except Raised as e:
        got = {"error": str(e)}
    except TemplateError as e:
        got = {"error": str(e), "render_error": True}
    want = {k: c[k] for k in ("output", "error", "render_error") if k in c}
    checked += 1
    if got != want and not (got.get("render_error") and want.get("render_error")):
        differ += 1
        name = "/".join(str(x) for x in (c["template"], c["conversation"], c.get("variant"), c["add_generation_prompt"]) if x is not None)
        print(f"{name}:\n  jinja2            {got!r}\n  @huggingface/jinja {want!r}")
print(f"{checked} cases checked, {differ} differ")
