/**
 * The Abstract-style API's validation failure: HTTP 400, envelope code `validation_error`, and
 * field-keyed `details` (spec abstract-api.md §7), e.g. `{ "url": ["This is a required argument."] }`.
 * Fields of the `resize` object nest: `{ "resize": { "width": ["…"] } }`.
 */
import { AppError } from '../../core/errors.js';

export type FieldErrors = { [field: string]: string[] | FieldErrors };

export const REQUIRED = 'This is a required argument.';

export class AbstractValidationError extends AppError {
  readonly fields: FieldErrors;

  constructor(fields: FieldErrors, message = 'A validation error occurred.') {
    super('INVALID_ARGUMENT', message, { details: { fields } });
    this.fields = fields;
  }
}

export function isAbstractValidationError(err: unknown): err is AbstractValidationError {
  return err instanceof AbstractValidationError;
}
