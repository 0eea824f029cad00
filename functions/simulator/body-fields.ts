/**
 * Strict readers for request-body fields. A field of the wrong JSON type is a 10004 (parameter
 * error) rather than being coerced: the simulator must not be friendlier than the real service.
 */
import { ApiFailure, type BodyObject, type BodyValue } from './envelope.ts';

function invalid(name: string, expected: string): ApiFailure {
  return new ApiFailure(10004, `Err_SVR_GROUP_INVALID_PARAMETERS: ${name} must be ${expected}`);
}

/** An optional integer that fits a double; bigint, floats and strings are rejected. */
export function optionalInt(body: BodyObject, name: string): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(name, 'an integer');
  return value;
}

/** A required integer. */
export function requiredInt(body: BodyObject, name: string): number {
  const value = optionalInt(body, name);
  if (value === undefined)
    throw new ApiFailure(10004, `Err_SVR_GROUP_INVALID_PARAMETERS: ${name} is required`);
  return value;
}

/** An optional unsigned 64-bit integer (number or bigint). */
export function optionalUint64(body: BodyObject, name: string): bigint | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value === 'bigint' && value >= 0n && value < 2n ** 64n) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value);
  throw invalid(name, 'an unsigned 64-bit integer');
}

/** An optional string; `''` counts as given (and is usually then rejected by the caller). */
export function optionalString(body: BodyObject, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(name, 'a string');
  return value;
}

/** A required non-empty string. */
export function requiredString(body: BodyObject, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined || value === '') {
    throw new ApiFailure(10004, `Err_SVR_GROUP_INVALID_PARAMETERS: ${name} is required`);
  }
  return value;
}

/** An optional array of strings. */
export function optionalStringArray(value: BodyValue | undefined, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string'))
    throw invalid(name, 'an array of strings');
  return value as string[];
}

/** An optional JSON object. */
export function optionalObject(body: BodyObject, name: string): BodyObject | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(name, 'an object');
  return value;
}
