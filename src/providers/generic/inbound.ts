import type { InboundHandler } from '../../webhooks/inbound-handler.js';

/** GENERIC (Standard Webhooks) events are stored, deduplicated, logged and replayable; nothing maps them. */
export const genericHandler: InboundHandler = {
  async handle(_ctx, payload) {
    const type = (payload as { type?: unknown })?.type;
    return { status: 'IGNORED', note: `GENERIC event ${typeof type === 'string' ? type : ''} kept in the inbox; no canonical mapping`.replace('  ', ' ') };
  },
};
