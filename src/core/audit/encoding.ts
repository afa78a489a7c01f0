// Strict base64: C2SP notes and vkeys carry standard padded base64, and a
// lenient decoder would let an attacker flip the unused padding bits of a
// signed value without changing what it decodes to.

const BASE64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard padded base64, or returns null unless the text is the canonical encoding. */
export function decodeBase64Strict(text: string): Buffer | null {
  if (!BASE64_SHAPE.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export function isLowerHex(text: string, length: number): boolean {
  return text.length === length && /^[0-9a-f]*$/.test(text);
}
