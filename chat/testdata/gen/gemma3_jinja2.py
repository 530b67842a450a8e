"""Renders Gemma 3's chat template (../templates/gemma3.jinja) over every
conversation of ../fixtures.json, with and without the generation prompt,
with Python's Jinja2 configured as transformers configures it, and writes
the outputs (or raise_exception messages) to ../gemma3.json, which
gemma_test.go checks golora's renders against.

Run: /usr/bin/python3 gemma3_jinja2.py   (Debian: python3-jinja2)
"""
import json
from pathlib import Path

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

here = Path(__file__).parent


class Raised(Exception):
    pass


def raise_exception(message):
    raise Raised(message)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.globals["raise_exception"] = raise_exception
template = env.from_string((here / ".." / "templates" / "gemma3.jinja").read_text())
conversations = json.loads((here / ".." / "fixtures.json").read_text())["conversations"]
cases = []
for name in sorted(conversations):
    for agp in (False, True):
        case = {"conversation": name, "add_generation_prompt": agp}
        try:
            case["output"] = template.render(messages=conversations[name], bos_token="<bos>", eos_token="<eos>",
                                             add_generation_prompt=agp)
        except Raised as e:
            case["error"] = str(e)
        except TemplateError as e:
            case["error"], case["render_error"] = str(e), True
        cases.append(case)
(here / ".." / "gemma3.json").write_text(json.dumps({"template": "gemma3", "bos": "<bos>", "eos": "<eos>", "cases": cases},
                                                    indent=1, ensure_ascii=False, sort_keys=True) + "\n")
