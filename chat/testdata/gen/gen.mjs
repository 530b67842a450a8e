// Renders the chat templates in ../templates and the feature cases below
// with @huggingface/jinja (the Jinja implementation of transformers.js),
// an implementation independent of golora's, and writes the results to
// ../fixtures.json for the Go tests. Run: npm install && node gen.mjs
//
// As transformers does, templates get messages, bos_token, eos_token and
// add_generation_prompt, and in the variants below enable_thinking or
// tools. Errors that do not come from raise_exception are marked
// render_error. jinja2_check.py renders the same cases with Jinja2. golora leaves strftime_now undefined (Llama 3.2
// then prints its fallback date), so it is removed from @huggingface/jinja's
// globals here too. Constructs @huggingface/jinja lacks or gets wrong
// (str.strip(chars), chained and string comparisons, tests with arguments,
// per-iteration loop scopes, Python's printing of True/None, ...) are kept
// out of the features here and tested in chat_test.go with values checked
// against Python's Jinja2.
import { Environment, Template } from "@huggingface/jinja";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const templatesDir = join(here, "..", "templates");

const conversations = {
	single: [
		{ role: "user", content: "Hello, how are you?" },
		{ role: "assistant", content: "I'm doing great. How can I help you today?" },
	],
	system: [
		{ role: "system", content: "You are a helpful assistant." },
		{ role: "user", content: "What is 2+2?" },
		{ role: "assistant", content: "4" },
		{ role: "user", content: "And 3+3?" },
	],
	multi: [
		{ role: "user", content: "First question?" },
		{ role: "assistant", content: "First answer." },
		{ role: "user", content: "Second question?" },
		{ role: "assistant", content: "Second answer." },
	],
	whitespace: [
		{ role: "user", content: "  padded question \n" },
		{ role: "assistant", content: "\n  padded answer  \n" },
	],
	special: [
		{ role: "user", content: "Quotes ' \" and \\ backslash, héllo ✓ 日本 🙂, {{ x }} {% y %} <|im_end|>" },
		{ role: "assistant", content: "Line1\nLine2\ttab </s>" },
	],
	"user-only": [{ role: "user", content: "Hi" }],
	"not-alternating": [
		{ role: "user", content: "One" },
		{ role: "user", content: "Two" },
	],
	tool: [
		{ role: "user", content: "Weather in Paris?" },
		{ role: "assistant", content: "Let me check." },
		{ role: "tool", content: '{"temperature": 20}' },
		{ role: "assistant", content: "It is 20 degrees." },
	],
	think: [
		{ role: "user", content: "What is 2+2?" },
		{ role: "assistant", content: "<think>\nAdd them.\n</think>\n\n4" },
		{ role: "user", content: "Thanks" },
		{ role: "assistant", content: "<think>\nPolite.\n</think>\n\nYou're welcome." },
	],
	reasoning: [
		{ role: "user", content: "What is 2+2?" },
		{ role: "assistant", content: "4", reasoning_content: "\nAdd them.\n" },
		{ role: "user", content: "Thanks" },
		{ role: "assistant", content: "\nYou're welcome.", reasoning_content: "Polite." },
	],
	"tool-calls": [
		{ role: "system", content: "You are a weather bot." },
		{ role: "user", content: "Weather in Paris and Rome?" },
		{
			role: "assistant",
			content: "",
			tool_calls: [
				{ type: "function", function: { name: "get_weather", arguments: { city: "Paris", unit: "celsius", days: 2, hourly: false, extra: null, tags: ["a", "b"], scale: 1.5 } } },
				{ type: "function", function: { name: "get_weather", arguments: '{"city": "Rome"}' } },
			],
		},
		{ role: "tool", content: '{"temperature": 20}' },
		{ role: "tool", content: '{"temperature": 25}' },
		{ role: "assistant", content: "<think>\nBoth are warm.\n</think>\n\nParis: 20 degrees, Rome: 25." },
	],
	"tool-call-with-content": [
		{ role: "user", content: "Find golora." },
		{ role: "assistant", content: "Searching.", reasoning_content: "Use search.", tool_calls: [{ name: "search", arguments: { q: "golora" } }] },
		{ role: "tool", content: "<tool_response>found</tool_response>" },
		{ role: "user", content: "<tool_response>a user message that looks like a tool response</tool_response>" },
		{ role: "assistant", content: "It is a Go module." },
	],
};

// Template variables beyond bos_token, eos_token and add_generation_prompt
// that some templates read; each template listed here is rendered once
// more with each of its variants, for every conversation.
const tools = {
	tools: [
		{ type: "function", function: { name: "get_weather", description: "Current weather.", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
	],
};
const variants = {
	qwen3: { nothink: { enable_thinking: false }, tools },
	"qwen3-thinking-2507": { tools },
};

// Special tokens per template family.
const tokens = {
	chatml: ["", ""],
	"deepseek-coder": ["<｜begin▁of▁sentence｜>", "<|EOT|>"],
	gemma: ["<bos>", "<eos>"],
	internlm2: ["<s>", "</s>"],
	llama2: ["<s>", "</s>"],
	llama3: ["<|begin_of_text|>", "<|eot_id|>"],
	"llama3.1": ["<|begin_of_text|>", "<|eot_id|>"],
	"llama3.2": ["<|begin_of_text|>", "<|eot_id|>"],
	"mistral-v0.1": ["<s>", "</s>"],
	"mistral-v0.2": ["<s>", "</s>"],
	"mistral-v0.3": ["<s>", "</s>"],
	"mixtral-v0.1": ["<s>", "</s>"],
	"phi3.5": ["<s>", "<|endoftext|>"],
	"qwen1.5": ["", "<|im_end|>"],
	qwen2: ["", "<|im_end|>"],
	"qwen2.5": ["", "<|im_end|>"],
	qwen3: ["", "<|im_end|>"],
	"qwen3-thinking-2507": ["", "<|im_end|>"],
	zephyr: ["<s>", "</s>"],
};

// Small templates exercising the supported constructs one by one; each is
// rendered with the "system" conversation.
const features = {
	"text only": "plain text\n",
	comment: "a{# a comment #}b{#- trimmed -#}  c",
	"whitespace control": "a  {{- 'b' -}}  c\n  {%- if true -%}  d  {%- endif %}\ne",
	"trim and lstrip blocks": "x\n  {% if true %}\n    y\n  {% endif %}\nz\n{# c #}\nw",
	"if elif else": "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}",
	"loop variables": "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}:{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{% if loop.previtem is defined %}<{{ loop.previtem.role }}{% endif %}{% if loop.nextitem is defined %}>{{ loop.nextitem.role }}{% endif %};{% endfor %}",
	"for else": "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}",
	"for with filter": "{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m.role[0] }}{% endfor %}",
	"for over dict items": "{% for k, v in {'a': 1, 'b': 'two'}.items() %}{{ k }}={{ v }};{% endfor %}",
	"break and continue": "{% for n in range(10) %}{% if n == 2 %}{% continue %}{% endif %}{% if n == 5 %}{% break %}{% endif %}{{ n }}{% endfor %}",
	"nested loops": "{% for i in range(2) %}{% for j in range(3) %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}",
	"set and loop scope": "{% set a = 1 %}{% for x in [1] %}{% set a = a + x %}{{ a }}{% endfor %}{{ a }}{% if true %}{% set b = 3 %}{% endif %}{{ b }}",
	namespace: "{% set ns = namespace(count=0, found=false) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }}{% if ns.found %}yes{% endif %}",
	"block set": "{% set greeting %}Hi {{ messages[1].content | upper }}{% endset %}[{{ greeting }}]",
	"string concatenation": "{{ 'a' + 'b' ~ 1 ~ '-' ~ messages | length }}",
	arithmetic: "{{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 2 * 3 - 1 }} {{ 2 ** 10 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }}",
	comparisons: "{% if 1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2 and 'a' == 'a' %}ok{% endif %}{% if not 1 > 2 %}not{% endif %}",
	"logic values": "{{ 'x' if (false or 'y') == 'y' else 'z' }}{{ 'p' if (0 and 1) == 0 else 'q' }}",
	"in operator": "{% if 'ell' in 'hello' %}1{% endif %}{% if 2 in [1, 2] %}2{% endif %}{% if 'role' in messages[0] %}3{% endif %}{% if 'x' not in messages[0] %}4{% endif %}",
	"tests": "{% if messages is defined and nothing is undefined and nothing is not defined %}a{% endif %}{% if none is none %}b{% endif %}{% if 'x' is string and 1 is number and 1 is integer %}c{% endif %}{% if {} is mapping and [] is iterable and 'x' is iterable %}d{% endif %}{% if 3 is odd and 4 is even %}e{% endif %}{% if true is true and false is false and true is boolean %}f{% endif %}",
	"conditional expression": "{{ 'yes' if messages else 'no' }}|{{ 'a' if false }}|{{ ('b' if true) + 'c' }}",
	"attribute and item access": "{{ messages[0].role }} {{ messages[0]['content'] }} {{ messages[-1].content }} {{ messages[1]['role'] }}",
	slices: "{{ messages[1:] | length }} {{ messages[:1][0].role }} {{ (messages[::-1] | first).content }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::2] }} {{ 'abcdef'[::-1] }} {{ [1, 2, 3, 4, 5][-2:] | join(',') }} {{ [1, 2, 3, 4, 5][3:0:-1] | join(',') }}",
	"list and dict literals": "{{ [1, 'a', [2]] | length }}{{ {'k': 'v', 'n': 2}['k'] }}{{ {'k': 'v'}.k }}{{ ['t', 'u'][1] }}",
	"filters on strings": "[{{ '  x y  ' | trim }}][{{ 'Ab' | upper }}][{{ 'Ab' | lower }}][{{ 'hello world' | title }}][{{ 'a-b-c' | replace('-', '+') }}][{{ 'abc' | length }}][{{ 42 | string }}]",
	"filters on lists": "{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ [3, 1, 2] | length }}{{ [1, 2, 3] | join('-') }}{{ [1, 2, 3] | reverse | join }}{{ messages | map(attribute='role') | join(',') }}",
	"default filter": "{{ nothing | default('d') }}|{{ '' | default('e') }}|{{ '' | default('f', true) }}|{{ 'g' | default('h') }}",
	"selectattr and rejectattr": "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join('|') }}/{{ messages | rejectattr('role', 'equalto', 'user') | list | length }}/{{ (messages | selectattr('role', 'eq', 'user') | list)[-1].content }}",
	"items filter": "{% for k, v in {'x': 1, 'y': 2} | items %}{{ k }}{{ v }}{% endfor %}",
	"tojson": "{{ messages[0] | tojson }}|{{ [1, 'two', none, true, false] | tojson }}|{{ 'quote \" back \\\\ nl \\n tab \\t' | tojson }}",
	"tojson indent": "{{ {'name': 'f', 'args': [1, {'a': []}], 'e': {}} | tojson(indent=2) }}",
	"string methods": "[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}][{{ 'a,b,,c'.split(',') | join('|') }}][{{ ' a  b '.split() | join('|') }}][{% if 'abc'.startswith('ab') and 'abc'.endswith('bc') and not 'abc'.endswith('b') %}ends{% endif %}][{{ 'ab'.upper() }}{{ 'AB'.lower() }}][{{ 'hello world'.title() }}][{{ 'a.b.c'.replace('.', '/') }}]",
	"think split": "{% set c = messages[1].content %}{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].split('<think>')[-1].strip() }}",
	"dict methods": "{{ messages[0].get('role') }}{{ messages[0].get('nope', 'dflt') }}{% if messages[0].get('nope') is none %}N{% endif %}{{ messages[0].keys() | join(',') }}{{ messages[0].values() | length }}",
	"raise_exception": "before{% if messages | length > 1 %}{{ raise_exception('Too many messages: ' ~ messages | length) }}{% endif %}",
	range: "{{ range(3) | join }}|{{ range(1, 4) | join }}|{{ range(0, 10, 3) | join }}|{{ range(3, 0, -1) | join }}",
	"escapes in strings": "{{ 'tab\\tnl\\nquote\\'dq\"bs\\\\' }}|{{ \"double 'single'\" }}|{{ 'unicode \\u00e9' }}",
	"numbers print": "{{ 3 }} {{ -2 }} {{ 1.5 }} {{ 10 / 4 }} {{ 0.1 + 0.2 }}",
	"dict iteration": "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}",
	"undefined prints nothing": "[{{ nothing }}][{{ messages[0].nothing }}][{{ messages[99] }}]",
	"list unpacking": "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
	"message loop with generation prompt": "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
};

const templates = readdirSync(templatesDir)
	.filter((f) => f.endsWith(".jinja"))
	.sort()
	.map((f) => [f.slice(0, -".jinja".length), readFileSync(join(templatesDir, f), "utf8")]);

// Template.render declares its globals with Environment.set; skip
// strftime_now there, and tag the errors raise_exception throws so that
// other errors (a template failing on its own, as on undefined + string)
// are marked render_error in the fixtures.
class Raised extends Error {}
const declare = Environment.prototype.set;
Environment.prototype.set = function (name, value) {
	if (name === "strftime_now") return undefined;
	if (name === "raise_exception") {
		return declare.call(this, name, (args) => {
			try {
				value(args);
			} catch (e) {
				throw new Raised(e.message);
			}
		});
	}
	return declare.call(this, name, value);
};

function render(source, messages, bos, eos, addGenerationPrompt, vars = {}) {
	try {
		const out = new Template(source).render({
			messages,
			bos_token: bos,
			eos_token: eos,
			add_generation_prompt: addGenerationPrompt,
			...vars,
		});
		return { output: out };
	} catch (e) {
		const error = String(e && e.message ? e.message : e);
		return e instanceof Raised ? { error } : { error, render_error: true };
	}
}

const cases = [];
for (const [name, source] of templates) {
	const [bos, eos] = tokens[name] ?? ["<s>", "</s>"];
	for (const conv of Object.keys(conversations)) {
		for (const agp of [false, true]) {
			cases.push({
				template: name,
				conversation: conv,
				bos,
				eos,
				add_generation_prompt: agp,
				...render(source, conversations[conv], bos, eos, agp),
			});
			for (const [variant, vars] of Object.entries(variants[name] ?? {})) {
				cases.push({
					template: name,
					conversation: conv,
					variant,
					bos,
					eos,
					add_generation_prompt: agp,
					...vars,
					...render(source, conversations[conv], bos, eos, agp, vars),
				});
			}
		}
	}
}
const featureCases = [];
for (const [name, source] of Object.entries(features)) {
	featureCases.push({ name, source, ...render(source, conversations.system, "<s>", "</s>", true) });
}

const pkg = JSON.parse(readFileSync(join(here, "node_modules", "@huggingface", "jinja", "package.json"), "utf8"));
const out = {
	generator: `@huggingface/jinja ${pkg.version} via chat/testdata/gen/gen.mjs`,
	conversations,
	cases,
	features: featureCases,
};
writeFileSync(join(here, "..", "fixtures.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${cases.length} template cases and ${featureCases.length} feature cases`);
