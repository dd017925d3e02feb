import { describe, expect, it } from 'vitest';
import { quoted } from '../../src/webhooks/event-writer.js';

/** How PostgreSQL reads a dollar-quoted literal: the tag, then everything up to its next occurrence. */
function readBack(literal: string): { value: string; rest: string } {
  const tag = /^\$[A-Za-z_][A-Za-z0-9_]*\$/.exec(literal)![0];
  const end = literal.indexOf(tag, tag.length);
  return { value: literal.slice(tag.length, end), rest: literal.slice(end + tag.length) };
}

describe('quoted (the webhook writer\'s literals)', () => {
  it('reads back as the text itself, whatever tags the text holds or ends with', () => {
    for (const text of ['[{"a":1}]', 'has $j$ inside', '$j$ and $j0$ and $j1$', 'ends with $j', 'ends with $', "quote ' and \\ backslash", '']) {
      expect(readBack(quoted(text))).toEqual({ value: text, rest: '' });
    }
  });
});
