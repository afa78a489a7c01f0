// C2SP signed notes carrying a C2SP tlog-checkpoint body:
//   <origin>\n<size>\n<base64 root>\n\n— <name> <base64(keyid ‖ sig)>\n
// The signature covers the body up to and including its final newline.
import { decodeBase64Strict } from './encoding.js';
import type { LogSigner, LogVerifierKey } from './log-key.js';

const EM_DASH = '\u2014';

function formatCheckpointBody(origin: string, size: number, root: Buffer): string {
  return `${origin}\n${size}\n${root.toString('base64')}\n`;
}

export function signCheckpointNote(signer: LogSigner, size: number, root: Buffer): string {
  const body = formatCheckpointBody(signer.origin, size, root);
  const signature = signer.sign(Buffer.from(body, 'utf8'));
  return `${body}\n${EM_DASH} ${signer.origin} ${Buffer.concat([signer.keyId, signature]).toString('base64')}\n`;
}

export type NoteCheck =
  | { ok: true; origin: string; size: number; root: Buffer }
  | { ok: false; code: 'BAD_CHECKPOINT_SIG' | 'UNKNOWN_KEY' | 'CHECKPOINT_MISMATCH'; message: string };

/**
 * Opens a signed checkpoint note with one trusted key. A note with no
 * signature line from that key is UNKNOWN_KEY; one whose signature fails is
 * BAD_CHECKPOINT_SIG; a signed body that is not a tlog-checkpoint is CHECKPOINT_MISMATCH.
 */
export function openCheckpointNote(note: string, key: LogVerifierKey): NoteCheck {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) return { ok: false, code: 'BAD_CHECKPOINT_SIG', message: 'the note has no signature block' };
  const body = note.slice(0, split + 1);
  const signatureLines = note.slice(split + 2, -1).split('\n');
  let ours: Buffer | null = null;
  let malformed = false;
  for (const line of signatureLines) {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!match) {
      malformed = true;
      continue;
    }
    const bytes = decodeBase64Strict(match[2] ?? '');
    if (!bytes || bytes.length < 5) {
      malformed = true;
      continue;
    }
    if (match[1] === key.name && bytes.subarray(0, 4).equals(key.keyId)) ours = bytes.subarray(4);
  }
  if (malformed) return { ok: false, code: 'BAD_CHECKPOINT_SIG', message: 'the note has a malformed signature line' };
  if (!ours) return { ok: false, code: 'UNKNOWN_KEY', message: `the note is not signed by the trusted key ${key.name}+${key.keyId.toString('hex')}` };
  if (!key.verify(Buffer.from(body, 'utf8'), ours)) return { ok: false, code: 'BAD_CHECKPOINT_SIG', message: 'the checkpoint signature does not verify' };
  const lines = body.slice(0, -1).split('\n');
  const [origin, sizeText, rootText] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) {
    return { ok: false, code: 'CHECKPOINT_MISMATCH', message: 'the signed note is not a tlog-checkpoint' };
  }
  const root = decodeBase64Strict(rootText);
  if (!root || root.length !== 32) return { ok: false, code: 'CHECKPOINT_MISMATCH', message: 'the signed root hash is not canonical base64 of 32 bytes' };
  return { ok: true, origin, size: Number(sizeText), root };
}
