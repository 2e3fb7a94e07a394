/**
 * The one JAAS entry of Kafka's `sasl.jaas.config`: `<LoginModule class> <flag> key="value" ... ;`.
 * Parsed, never evaluated: the class only says which mechanism the options are for.
 */
export interface JaasConfig {
  loginModule: string;
  flag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: Record<string, string>;
}

const TOKEN = /\s*(?:"((?:[^"\\]|\\.)*)"|([^\s=;"]+)|(=)|(;))/y;

type Token = { text: string; quoted: boolean } | '=' | ';';

function tokens(text: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`unexpected text at "${text.slice(at, at + 20)}"`);
    if (m[3]) out.push('=');
    else if (m[4]) out.push(';');
    else out.push(m[1] !== undefined ? { text: m[1].replace(/\\(.)/g, '$1'), quoted: true } : { text: m[2], quoted: false });
  }
  return out;
}

/** Throws an Error whose message says what is wrong. */
export function parseJaasConfig(text: string): JaasConfig {
  const t = tokens(text);
  const word = (i: number, what: string): string => {
    const tok = t[i];
    if (typeof tok !== 'object' || tok.quoted) throw new Error(`expected ${what}`);
    return tok.text;
  };
  const loginModule = word(0, 'a login module class');
  const flag = word(1, 'a control flag after the login module');
  if (!['required', 'requisite', 'sufficient', 'optional'].includes(flag)) throw new Error(`control flag "${flag}": expected required, requisite, sufficient or optional`);
  const options: Record<string, string> = {};
  let i = 2;
  for (; i < t.length && t[i] !== ';'; i += 3) {
    const key = word(i, 'an option name');
    const value = t[i + 2];
    if (t[i + 1] !== '=' || typeof value !== 'object') throw new Error(`option ${key}: expected ${key}="value"`);
    options[key] = value.text;
  }
  if (t[i] !== ';') throw new Error('expected ";" at the end of the login module');
  if (i + 1 < t.length) throw new Error('one login module only is allowed');
  return { loginModule, flag: flag as JaasConfig['flag'], options };
}

export function formatJaasConfig(c: JaasConfig): string {
  const options = Object.entries(c.options).map(([k, v]) => ` ${k}="${v.replace(/["\\]/g, '\\$&')}"`);
  return `${c.loginModule} ${c.flag}${options.join('')};`;
}

/** The PLAIN users a PlainLoginModule entry declares: `user_<name>="<password>"`. */
export function plainUsers(c: JaasConfig): Map<string, string> {
  const users = new Map<string, string>();
  for (const [k, v] of Object.entries(c.options)) if (k.startsWith('user_') && k.length > 5) users.set(k.slice(5), v);
  return users;
}
