/**
 * The value types of Kafka-named configs: how a config's string form is parsed, checked and
 * printed back. Each config in config-defs.ts names one of these, so parsing, validation and
 * DescribeConfigs all come from the same place.
 */

/** Kafka's ConfigEntry.ConfigType ids, as DescribeConfigs (v3+) reports them. */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;
export type ConfigTypeId = (typeof ConfigType)[keyof typeof ConfigType];

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const bad = <T>(error: string): Parsed<T> => ({ ok: false, error });

export interface ValueType<T> {
  readonly configType: ConfigTypeId;
  /** Parses an already trimmed string; `error` completes "key=value: ...". */
  parse(raw: string): Parsed<T>;
  /** Kafka's string form of the value, which parse() reads back to the same value. */
  format(value: T): string;
}

/** A range or shape check beyond the type; returns the problem, or undefined when fine. */
export type Validator<T> = (value: T) => string | undefined;

export const atLeast =
  (min: number): Validator<number> =>
  (v) =>
    v >= min ? undefined : `must be at least ${min}`;

export const between =
  (min: number, max: number): Validator<number> =>
  (v) =>
    v >= min && v <= max ? undefined : `must be between ${min} and ${max}`;

export const notEmpty =
  (what: string): Validator<readonly unknown[]> =>
  (v) =>
    v.length > 0 ? undefined : `expected at least one ${what}`;

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Java's Long.MAX_VALUE as Kafka prints it (the default of flush.messages and flush.ms). */
export const LONG_MAX_STRING = INT64_MAX.toString();
const LONG_MIN_STRING = INT64_MIN.toString();

export const int: ValueType<number> = {
  configType: ConfigType.INT,
  parse(raw) {
    if (!INTEGER.test(raw)) return bad('expected an integer');
    const n = Number(raw);
    return n >= INT32_MIN && n <= INT32_MAX ? ok(n) : bad(`expected an integer between ${INT32_MIN} and ${INT32_MAX}`);
  },
  format: (n) => String(n),
};

/**
 * A Java long. Numbers keep only 53 bits, so longs beyond ±2^53 become ±Infinity: such values
 * only ever mean "never" (Long.MAX_VALUE is Kafka's "unlimited"), and Infinity compares the
 * same way in every check the storage makes. They print back as Long.MAX_VALUE / MIN_VALUE.
 */
export const long: ValueType<number> = {
  configType: ConfigType.LONG,
  parse(raw) {
    if (!INTEGER.test(raw)) return bad('expected an integer');
    const big = BigInt(raw);
    if (big < INT64_MIN || big > INT64_MAX) return bad(`expected an integer between ${LONG_MIN_STRING} and ${LONG_MAX_STRING}`);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) return ok(Number.POSITIVE_INFINITY);
    if (big < BigInt(Number.MIN_SAFE_INTEGER)) return ok(Number.NEGATIVE_INFINITY);
    return ok(Number(big));
  },
  format(n) {
    if (n === Number.POSITIVE_INFINITY) return LONG_MAX_STRING;
    if (n === Number.NEGATIVE_INFINITY) return LONG_MIN_STRING;
    return String(n);
  },
};

export const double: ValueType<number> = {
  configType: ConfigType.DOUBLE,
  parse: (raw) => (DECIMAL.test(raw) ? ok(Number(raw)) : bad('expected a number')),
  // Java prints whole doubles with ".0"; clients comparing with Kafka's output expect that.
  format: (n) => (Number.isInteger(n) ? n.toFixed(1) : String(n)),
};

export const boolean: ValueType<boolean> = {
  configType: ConfigType.BOOLEAN,
  parse(raw) {
    const lower = raw.toLowerCase();
    if (lower === 'true') return ok(true);
    if (lower === 'false') return ok(false);
    return bad('expected true or false');
  },
  format: (b) => String(b),
};

export const string: ValueType<string> = {
  configType: ConfigType.STRING,
  parse: (raw) => ok(raw),
  format: (s) => s,
};

/** A secret (Kafka's PASSWORD type): DescribeConfigs reports it sensitive, without its value. */
export const password: ValueType<string> = { ...string, configType: ConfigType.PASSWORD };

/** One of a fixed set of strings, matched exactly as Kafka does. */
export function oneOf<const V extends string>(values: readonly V[]): ValueType<V> {
  return {
    configType: ConfigType.STRING,
    parse: (raw) => ((values as readonly string[]).includes(raw) ? ok(raw as V) : bad(`expected one of ${values.join(', ')}`)),
    format: (v) => v,
  };
}

/** Splits Kafka's LIST form: comma-separated, blanks around commas ignored, "" is the empty list. */
export function splitList(raw: string): string[] {
  return raw === '' ? [] : raw.split(',').map((s) => s.trim());
}

/**
 * A comma-separated list whose items each parse with `item`. Empty items ("a,,b") are mistakes
 * rather than values, so they are rejected.
 */
export function listOf<T>(item: (raw: string) => Parsed<T>, formatItem: (v: T) => string): ValueType<T[]> {
  return {
    configType: ConfigType.LIST,
    parse(raw) {
      const items = splitList(raw);
      const values: T[] = [];
      for (const s of items) {
        if (s === '') return bad('expected a comma-separated list with no empty entries');
        const parsed = item(s);
        if (!parsed.ok) return items.length === 1 ? parsed : bad(`"${s}": ${parsed.error}`);
        values.push(parsed.value);
      }
      return ok(values);
    },
    format: (vs) => vs.map(formatItem).join(','),
  };
}

export const stringList: ValueType<string[]> = listOf(ok, (s) => s);

/** A set drawn from fixed values, as a list (cleanup.policy); repeats collapse. */
export function subsetOf<const V extends string>(values: readonly V[]): ValueType<V[]> {
  const member = oneOf(values);
  const list = listOf(member.parse, member.format);
  return {
    ...list,
    parse(raw) {
      const parsed = list.parse(raw);
      return parsed.ok ? ok([...new Set(parsed.value)]) : parsed;
    },
  };
}
