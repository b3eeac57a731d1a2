// Rules for the short texts people type (references, names, addresses, reasons): refused, never rewritten, when they
// carry characters that change how they read or display without being seen.

/** Bidirectional-text controls: they reorder how the text around them displays (U+202E shows "exe.txt" as "txt.exe"). */
const BIDI_CONTROL = /\p{Bidi_Control}/u;
/** Control characters (C0, DEL, C1), line breaks and tabs included. */
const CONTROL = /\p{Cc}/u;
/** Control characters but line feed, carriage return and tab, for texts that may run over several lines. */
const CONTROL_BUT_LINES = /(?![\t\n\r])\p{Cc}/u;
/** Invisible format characters (Unicode category Cf): U+200B zero-width space, U+200D zero-width joiner, U+FEFF... */
const FORMAT = /\p{Cf}/gu;

export interface TextRuleOptions {
  /** Line breaks and tabs are taken (a reason, a description, a postal address). */
  multiLine?: boolean;
}

/**
 * Why a short text is refused, or null when it is fine: a control character (line breaks and tabs are taken in a
 * multi-line text), a bidirectional-text control, or nothing visible once format characters (category Cf) are set aside.
 * Format characters inside visible text stay, as U+200D joins the parts of a name written in some scripts or an emoji.
 */
export function textProblem(value: string, options: TextRuleOptions = {}): string | null {
  if ((options.multiLine ? CONTROL_BUT_LINES : CONTROL).test(value)) {
    return options.multiLine ? 'must not contain control characters other than line breaks and tabs' : 'must be one line, without control characters';
  }
  if (BIDI_CONTROL.test(value)) return 'must not contain bidirectional-text controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, U+061C)';
  if (value.replace(FORMAT, '').trim() === '') return value.trim() === '' ? 'is required' : 'is required: invisible characters alone are not a value';
  return null;
}
