/**
 * Hive type strings (what Glue stores and `RECORD_COLUMNS` declares) parsed into a tree, and
 * rendered for the other two places that need the same schema: the Presto/Trino view encoding
 * Athena keeps in Glue (`array(varchar)`, `row(a bigint)`), and DuckDB's `read_json` column types
 * (`VARCHAR[]`, `STRUCT("a" BIGINT)`). One parser means the three spellings cannot drift apart.
 */

/** A parsed Hive type. */
export type HiveType =
  | { readonly kind: 'primitive'; readonly name: string }
  | { readonly kind: 'array'; readonly of: HiveType }
  | { readonly kind: 'map'; readonly key: HiveType; readonly value: HiveType }
  | { readonly kind: 'struct'; readonly fields: readonly (readonly [string, HiveType])[] };

const PRIMITIVES = new Set(['string', 'bigint', 'int', 'smallint', 'tinyint', 'double', 'float', 'boolean']);

/**
 * Parses a Hive type such as `array<struct<msg_type:string,msg_content:struct<text:string>>>`.
 *
 * @throws SyntaxError naming the position when the text is not a type this module knows.
 */
export function parseHiveType(text: string): HiveType {
  const parser = new TypeParser(text);
  const type = parser.type();
  parser.end();
  return type;
}

class TypeParser {
  private pos = 0;
  public constructor(private readonly text: string) {}

  public type(): HiveType {
    const word = this.word();
    if (word === 'array') {
      this.expect('<');
      const of = this.type();
      this.expect('>');
      return { kind: 'array', of };
    }
    if (word === 'map') {
      this.expect('<');
      const key = this.type();
      this.expect(',');
      const value = this.type();
      this.expect('>');
      return { kind: 'map', key, value };
    }
    if (word === 'struct') {
      this.expect('<');
      const fields: [string, HiveType][] = [];
      do {
        const name = this.word();
        this.expect(':');
        fields.push([name, this.type()]);
      } while (this.accept(','));
      this.expect('>');
      return { kind: 'struct', fields };
    }
    if (!PRIMITIVES.has(word)) this.fail(`unknown type "${word}"`);
    return { kind: 'primitive', name: word };
  }

  public end(): void {
    if (this.pos !== this.text.length) this.fail('unexpected trailing text');
  }

  private word(): string {
    const match = /^[a-z_][a-z0-9_]*/.exec(this.text.slice(this.pos));
    if (match === null) this.fail('expected a name');
    this.pos += match[0].length;
    return match[0];
  }

  private accept(ch: string): boolean {
    if (this.text[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  private expect(ch: string): void {
    if (!this.accept(ch)) this.fail(`expected "${ch}"`);
  }

  private fail(why: string): never {
    throw new SyntaxError(`invalid Hive type at ${this.pos} in ${JSON.stringify(this.text)}: ${why}`);
  }
}

const PRESTO_PRIMITIVES: Record<string, string> = {
  string: 'varchar',
  int: 'integer',
  float: 'real',
};

/**
 * The Presto/Trino spelling Athena uses in a view's column list: `string` is `varchar`, `int` is
 * `integer`, `array<T>` is `array(T)`, `struct<a:T>` is `row(a T)`.
 */
export function toPrestoType(type: HiveType): string {
  switch (type.kind) {
    case 'primitive':
      return PRESTO_PRIMITIVES[type.name] ?? type.name;
    case 'array':
      return `array(${toPrestoType(type.of)})`;
    case 'map':
      return `map(${toPrestoType(type.key)}, ${toPrestoType(type.value)})`;
    case 'struct':
      return `row(${type.fields.map(([name, field]) => `${name} ${toPrestoType(field)}`).join(', ')})`;
  }
}

const DUCKDB_PRIMITIVES: Record<string, string> = {
  string: 'VARCHAR',
  bigint: 'BIGINT',
  int: 'INTEGER',
  smallint: 'SMALLINT',
  tinyint: 'TINYINT',
  double: 'DOUBLE',
  float: 'FLOAT',
  boolean: 'BOOLEAN',
};

/** Options of {@link toDuckDbType}. */
export interface DuckDbTypeOptions {
  /**
   * Struct fields to read as DuckDB `JSON` instead of a typed struct. DuckDB matches JSON keys to
   * struct fields case-SENSITIVELY, unlike Athena's OpenX SerDe, so a struct over the API's
   * mixed-case keys (`MsgContent.Text`) would read as all nulls; as JSON it stays queryable.
   */
  readonly jsonFields?: ReadonlySet<string>;
}

/** The DuckDB spelling of a Hive type, for `read_json(columns = {...})`. */
export function toDuckDbType(type: HiveType, options: DuckDbTypeOptions = {}): string {
  switch (type.kind) {
    case 'primitive': {
      const name = DUCKDB_PRIMITIVES[type.name];
      if (name === undefined) throw new RangeError(`no DuckDB type for Hive ${type.name}`);
      return name;
    }
    case 'array':
      return `${toDuckDbType(type.of, options)}[]`;
    case 'map':
      return `MAP(${toDuckDbType(type.key, options)}, ${toDuckDbType(type.value, options)})`;
    case 'struct':
      return `STRUCT(${type.fields
        .map(
          ([name, field]) =>
            `"${name}" ${options.jsonFields?.has(name) ? 'JSON' : toDuckDbType(field, options)}`,
        )
        .join(', ')})`;
  }
}
