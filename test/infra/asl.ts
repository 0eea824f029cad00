/**
 * A small interpreter for the subset of the Amazon States Language (JSONPath flavour) that the
 * archiver's state machines use, so tests can run the synthesized definition: Pass, Task (with
 * pluggable resources), Choice, Wait (no real wait), inline Map (MaxConcurrency, at most 40
 * iterations at once), Succeed, Fail; Parameters,
 * ItemSelector, ResultSelector, ResultPath; Retry (attempt counts, no delays) and Catch; paths with
 * `$$.` context, `[*]` projections, `[?(@.key == 'value')]` filters and `[n]` indexes; the
 * intrinsics States.ArrayLength, ArrayGetItem, ArrayContains, MathAdd and JsonToString. Choice
 * rules: And (short-circuit), Or, Not, IsPresent, IsBoolean, IsNumeric, IsString and the
 * comparisons the definitions use.
 *
 * It is a test double of Step Functions, not a replacement: it checks the wiring (state names,
 * paths, loop bound, retry/catch routing) of the real definition against stated semantics.
 */

import { createRequire } from 'node:module';

export type Json = unknown;

/** A state or choice rule of the definition (parsed JSON, read field by field). */
// biome-ignore lint/suspicious/noExplicitAny: ASL JSON has no static type here.
type Node = Record<string, any>;

/** A task resource: receives the rendered Parameters, returns the raw result or throws. */
export type TaskHandler = (parameters: Record<string, Json>) => Promise<Json> | Json;

/** A task failure with the error name Step Functions would report. */
export class TaskError extends Error {
  public readonly error: string;
  public override readonly cause: string;
  public constructor(error: string, cause = '') {
    super(`${error}: ${cause}`);
    this.error = error;
    this.cause = cause;
  }
}

export interface Execution {
  status: 'SUCCEEDED' | 'FAILED';
  output?: Json;
  error?: string;
  cause?: string;
  /** State names in the order they were entered (Map iterations interleaved). */
  trace: string[];
}

interface StateMachineJson {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, Node>;
}

interface Context {
  Execution: { Id: string };
  StateMachine: { Id: string };
  Map?: { Item: { Value: Json; Index: number } };
}

/**
 * Run `definition` on `input`. `resources` maps a Task's Resource (the part after
 * `:states:::`, e.g. `lambda:invoke`) to its handler.
 */
export async function execute(
  definition: StateMachineJson,
  input: Json,
  resources: Record<string, TaskHandler>,
  context: Omit<Context, 'Map'> = {
    Execution: { Id: 'arn:aws:states:us-east-1:1:execution:sm:me' },
    StateMachine: { Id: 'arn:aws:states:us-east-1:1:stateMachine:sm' },
  },
): Promise<Execution> {
  const trace: string[] = [];
  try {
    const output = await runStates(definition, input, resources, context, trace);
    return { status: 'SUCCEEDED', output, trace };
  } catch (error) {
    if (error instanceof TaskError)
      return { status: 'FAILED', error: error.error, cause: error.cause, trace };
    throw error;
  }
}

async function runStates(
  machine: StateMachineJson,
  input: Json,
  resources: Record<string, TaskHandler>,
  context: Context,
  trace: string[],
): Promise<Json> {
  let name: string | undefined = machine.StartAt;
  let data = input;
  for (let steps = 0; name !== undefined; steps++) {
    if (steps > 10_000) throw new Error('runaway state machine');
    const state: Node | undefined = machine.States[name];
    if (!state) throw new Error(`no state ${name}`);
    trace.push(name);
    switch (state.Type) {
      case 'Pass': {
        const result =
          'Parameters' in state
            ? render(state.Parameters, data, context)
            : 'Result' in state
              ? state.Result
              : data;
        data = applyResultPath(data, result, state.ResultPath);
        break;
      }
      case 'Task': {
        const outcome = await runTask(state, data, resources, context);
        if ('caught' in outcome) {
          name = outcome.caught;
          data = outcome.data;
          continue;
        }
        data = outcome.data;
        break;
      }
      case 'Map': {
        const items = readPath(data, state.ItemsPath ?? '$', context) as Json[];
        const results = await inParallel(items, mapConcurrency(state.MaxConcurrency), (value, index) => {
          const itemContext = { ...context, Map: { Item: { Value: value, Index: index } } };
          const itemInput = state.ItemSelector ? render(state.ItemSelector, data, itemContext) : value;
          return runStates(state.ItemProcessor, itemInput, resources, itemContext, trace);
        });
        const selected = state.ResultSelector ? render(state.ResultSelector, results, context) : results;
        data = applyResultPath(data, selected, state.ResultPath);
        break;
      }
      case 'Choice': {
        const match: Node | undefined = (state.Choices as Node[]).find((rule) =>
          evaluate(rule, data, context),
        );
        name = match ? match.Next : state.Default;
        if (name === undefined) throw new TaskError('States.NoChoiceMatched', name);
        continue;
      }
      case 'Wait':
        break;
      case 'Succeed':
        return data;
      case 'Fail':
        throw new TaskError(
          state.Error ?? (state.ErrorPath ? String(evaluateValue(state.ErrorPath, data, context)) : ''),
          state.Cause ?? (state.CausePath ? String(evaluateValue(state.CausePath, data, context)) : ''),
        );
      default:
        throw new Error(`unsupported state type ${state.Type}`);
    }
    if (state.End) return data;
    name = state.Next;
  }
  return data;
}

/** An inline Map runs at most 40 iterations at once, fewer with a MaxConcurrency above 0. */
const INLINE_MAP_CONCURRENCY = 40;

function mapConcurrency(maxConcurrency: unknown): number {
  const limit = typeof maxConcurrency === 'number' && maxConcurrency > 0 ? maxConcurrency : Infinity;
  return Math.min(limit, INLINE_MAP_CONCURRENCY);
}

/** `run` over every item, at most `limit` at once, each next item starting as one finishes. */
async function inParallel<T>(
  items: T[],
  limit: number,
  run: (item: T, index: number) => Promise<Json>,
): Promise<Json[]> {
  const results: Json[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function runTask(
  state: Node,
  data: Json,
  resources: Record<string, TaskHandler>,
  context: Context,
): Promise<{ data: Json } | { caught: string; data: Json }> {
  const resource = String(state.Resource).replace(/^arn:[^:]+:states:::/, '');
  const handler = resources[resource];
  if (!handler) throw new Error(`no handler for resource ${resource}`);
  const parameters = render(state.Parameters ?? {}, data, context) as Record<string, Json>;
  const attempts = new Map<Node, number>();
  for (;;) {
    try {
      const raw = await handler(parameters);
      const selected = state.ResultSelector ? render(state.ResultSelector, raw, context) : raw;
      return { data: applyResultPath(data, selected, state.ResultPath) };
    } catch (error) {
      if (!(error instanceof TaskError)) throw error;
      const retrier = (state.Retry ?? []).find((r: Node) => matches(r.ErrorEquals, error.error));
      const used = retrier ? (attempts.get(retrier) ?? 0) : 0;
      if (retrier && used < (retrier.MaxAttempts ?? 3)) {
        attempts.set(retrier, used + 1);
        continue;
      }
      const catcher = (state.Catch ?? []).find((c: Node) => matches(c.ErrorEquals, error.error));
      if (!catcher) throw error;
      const errorOutput = { Error: error.error, Cause: error.cause };
      return { caught: catcher.Next, data: applyResultPath(data, errorOutput, catcher.ResultPath) };
    }
  }
}

function matches(names: string[], error: string): boolean {
  return names.includes(error) || (names.includes('States.ALL') && !error.startsWith('States.Runtime'));
}

function evaluate(rule: Node, data: Json, context: Context): boolean {
  // Short-circuit, as Step Functions does: `And [IsPresent, IsNumeric, …]` guards a missing field.
  if (rule.And) return rule.And.every((r: Node) => evaluate(r, data, context));
  if (rule.Or) return rule.Or.some((r: Node) => evaluate(r, data, context));
  if (rule.Not) return !evaluate(rule.Not, data, context);
  const present = hasPath(data, rule.Variable);
  if ('IsPresent' in rule) return present === rule.IsPresent;
  if (!present) throw new TaskError('States.Runtime', `Invalid path ${rule.Variable}`);
  const value = readPath(data, rule.Variable, context);
  if ('IsBoolean' in rule) return (typeof value === 'boolean') === rule.IsBoolean;
  if ('IsNumeric' in rule) return (typeof value === 'number') === rule.IsNumeric;
  if ('IsString' in rule) return (typeof value === 'string') === rule.IsString;
  if ('BooleanEquals' in rule) return value === rule.BooleanEquals;
  if ('NumericLessThan' in rule) return (value as number) < rule.NumericLessThan;
  if ('NumericLessThanPath' in rule)
    return (value as number) < (readPath(data, rule.NumericLessThanPath, context) as number);
  if ('NumericEquals' in rule) return value === rule.NumericEquals;
  if ('NumericGreaterThan' in rule) return (value as number) > rule.NumericGreaterThan;
  if ('NumericGreaterThanEquals' in rule) return (value as number) >= rule.NumericGreaterThanEquals;
  if ('StringEquals' in rule) return value === rule.StringEquals;
  if ('StringEqualsPath' in rule) return value === readPath(data, rule.StringEqualsPath, context);
  throw new Error(`unsupported choice rule ${JSON.stringify(rule)}`);
}

/** Parameters/ResultSelector/ItemSelector: keys ending in `.$` are paths or intrinsics. */
function render(template: Json, data: Json, context: Context): Json {
  if (Array.isArray(template)) return template.map((item) => render(item, data, context));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = evaluateValue(String(value), data, context);
    else out[key] = render(value, data, context);
  }
  return out;
}

function evaluateValue(expression: string, data: Json, context: Context): Json {
  const intrinsic = /^(States\.\w+)\((.*)\)$/s.exec(expression.trim());
  if (!intrinsic) return readPath(data, expression, context);
  const args = splitArguments(intrinsic[2] ?? '').map((arg) => {
    if (arg.startsWith("'")) return arg.slice(1, -1);
    if (/^-?\d+(\.\d+)?$/.test(arg)) return Number(arg);
    return evaluateValue(arg, data, context);
  });
  switch (intrinsic[1]) {
    case 'States.ArrayLength':
      return (args[0] as Json[]).length;
    case 'States.ArrayGetItem': {
      const item = (args[0] as Json[])[args[1] as number];
      if (item === undefined) throw new TaskError('States.Runtime', 'ArrayGetItem index out of bounds');
      return item;
    }
    case 'States.ArrayContains':
      return (args[0] as Json[]).includes(args[1]);
    case 'States.MathAdd':
      return (args[0] as number) + (args[1] as number);
    case 'States.JsonToString':
      return JSON.stringify(args[0]);
    default:
      throw new Error(`unsupported intrinsic ${intrinsic[1]}`);
  }
}

function splitArguments(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const char of text) {
    if (char === "'") quoted = !quoted;
    if (!quoted && char === '(') depth++;
    if (!quoted && char === ')') depth--;
    if (!quoted && depth === 0 && char === ',') {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

function tokens(path: string): string[] {
  return path.replace(/^\$\$?/, '').match(/\.[^.[]+|\[\?\(.*?\)\]|\[[^\]]*\]/g) ?? [];
}

/** `[?(@.key == 'text')]` or `[?(@.key == 12)]`: the only filter form the definitions use. */
function filterOf(token: string): ((item: Json) => boolean) | undefined {
  const match = /^\[\?\(@\.(\w+) == (?:'([^']*)'|(-?\d+(?:\.\d+)?))\)\]$/.exec(token);
  if (!match) return undefined;
  const [, key, text, number] = match;
  const expected = text ?? Number(number);
  return (item) => item !== null && typeof item === 'object' && (item as Node)[key as string] === expected;
}

function hasPath(data: Json, path: string): boolean {
  try {
    return readPath(data, path, undefined, true) !== undefined;
  } catch {
    return false;
  }
}

/** `$.a.b`, `$.a[0]`, `$.a[*].b`, `$[*].b`, `$$.Execution.Id`. */
function readPath(data: Json, path: string, context?: Context, lenient = false): Json {
  let values: Json[] = [path.startsWith('$$') ? context : data];
  let projected = false;
  for (const token of tokens(path)) {
    if (token === '[*]') {
      values = values.flatMap((v) => (Array.isArray(v) ? v : []));
      projected = true;
      continue;
    }
    const filter = filterOf(token);
    if (filter) {
      values = values.flatMap((v) => (Array.isArray(v) ? v.filter(filter) : []));
      projected = true;
      continue;
    }
    if (token.startsWith('[?')) throw new Error(`unsupported filter ${token}`);
    const key = token.startsWith('[') ? Number(token.slice(1, -1)) : token.slice(1);
    values = values.map((v) => (v === null || typeof v !== 'object' ? undefined : (v as Node)[key]));
  }
  if (projected) return values.filter((v) => v !== undefined);
  const [value] = values;
  if (value === undefined && !lenient) throw new TaskError('States.Runtime', `Invalid path ${path}`);
  return value;
}

function applyResultPath(data: Json, result: Json, resultPath: string | null | undefined): Json {
  if (resultPath === null) return data;
  if (resultPath === undefined || resultPath === '$') return result;
  const keys = tokens(resultPath).map((t) => t.slice(1));
  const copy = structuredClone(data) as Record<string, Json>;
  let target = copy;
  for (const key of keys.slice(0, -1)) {
    target[key] ??= {};
    target = target[key] as Record<string, Json>;
  }
  target[keys.at(-1) as string] = result;
  return copy;
}

/**
 * The definition of a synthesized `AWS::StepFunctions::StateMachine` (an `Fn::Join` of strings
 * and references): references become placeholders such as `<ArchiverFunction.Arn>`.
 */
export function definitionFrom(definitionString: Json): StateMachineJson {
  if (typeof definitionString === 'string') return JSON.parse(definitionString);
  const [, parts] = (definitionString as { 'Fn::Join': [string, Json[]] })['Fn::Join'];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref !== undefined) return `<${ref}>`;
      const getAtt = (part as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
      return `<${getAtt?.join('.')}>`;
    })
    .join('');
  return JSON.parse(text);
}

/** asl-validator's verdict (a CommonJS module without types). */
interface AslValidation {
  isValid: boolean;
  errors: { 'Error code': string; Message: string }[];
}
const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => AslValidation;

/**
 * Validate a definition with asl-validator (the Amazon States Language JSON schemas, transitions,
 * terminal states, paths, ARNs): an independent check beside this interpreter's own reading.
 * Returns the messages; empty when valid.
 */
export function aslErrors(definition: StateMachineJson): string[] {
  const { isValid, errors } = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
  return isValid ? [] : errors.map((e) => `${e['Error code']}: ${e.Message}`);
}
