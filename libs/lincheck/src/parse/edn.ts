/**
 * Just enough EDN to read one Jepsen operation map per line: maps, vectors, keywords, strings,
 * integers, `nil`, `true`, `false`. Not a general EDN reader (no sets, tags, symbols or floats).
 */

export class Keyword {
  constructor(readonly name: string) {}
}

export type EdnValue = null | boolean | number | string | Keyword | EdnValue[] | EdnMap;

/** A map with keyword keys, keyed by the keyword's name without its colon. */
export type EdnMap = Map<string, EdnValue>;

/** Reads one EDN value that must span the whole text; throws an Error saying what is wrong. */
export function readEdn(text: string): EdnValue {
  const reader = new Reader(text);
  const value = reader.value();
  reader.skipSpace();
  if (!reader.atEnd()) throw new Error(`unexpected ${JSON.stringify(text.slice(reader.at, reader.at + 10))}`);
  return value;
}

const symbolChar = /[A-Za-z0-9*+!\-_?<>=./]/;

class Reader {
  at = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.at >= this.text.length;
  }

  skipSpace(): void {
    while (!this.atEnd() && /[\s,]/.test(this.text[this.at] ?? '')) this.at++;
  }

  value(): EdnValue {
    this.skipSpace();
    const c = this.text[this.at];
    if (c === undefined) throw new Error('unexpected end of line');
    if (c === '{') return this.map();
    if (c === '[') return this.vector();
    if (c === '"') return this.string();
    if (c === ':') {
      this.at++;
      const name = this.symbol();
      if (name === '') throw new Error('empty keyword');
      return new Keyword(name);
    }
    const word = this.symbol();
    if (word === 'nil') return null;
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (/^[-+]?\d+$/.test(word)) return Number(word);
    throw new Error(
      word === '' ? `unexpected ${JSON.stringify(c)}` : `unsupported token ${JSON.stringify(word)}`,
    );
  }

  private symbol(): string {
    const start = this.at;
    while (!this.atEnd() && symbolChar.test(this.text[this.at] ?? '')) this.at++;
    return this.text.slice(start, this.at);
  }

  private map(): EdnMap {
    this.at++;
    const map: EdnMap = new Map();
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] === '}') {
        this.at++;
        return map;
      }
      const key = this.value();
      if (!(key instanceof Keyword)) throw new Error('map keys must be keywords');
      map.set(key.name, this.value());
    }
  }

  private vector(): EdnValue[] {
    this.at++;
    const items: EdnValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] === ']') {
        this.at++;
        return items;
      }
      items.push(this.value());
    }
  }

  private string(): string {
    this.at++;
    let out = '';
    for (;;) {
      const c = this.text[this.at++];
      if (c === undefined) throw new Error('unterminated string');
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.at++];
      const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
      const decoded = e === undefined ? undefined : escapes[e];
      if (decoded === undefined) throw new Error(`unsupported escape \\${e ?? ''}`);
      out += decoded;
    }
  }
}
