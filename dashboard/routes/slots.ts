/** Slot table and assignment without data movement. */
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import { AssignBody, AssignResponse, SlotsResponse } from '../schemas/index.js';
import { slotRanges } from '../topom/store.js';
import { slotView } from '../topom/views.js';
import { errorResponses, mutate } from './common.js';

export function registerSlotRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/slots',
    { schema: { summary: 'All 1024 slots and their ranges per group', tags: ['slots'], response: { 200: SlotsResponse, ...errorResponses } } },
    async () => {
      const snap = await ctx.store.read();
      const slots = snap.slots.map((s) => slotView(s.record));
      return { revision: snap.revision, ranges: slotRanges(slots, true), slots };
    },
  );

  app.put(
    '/api/v1/slots/assignment',
    {
      schema: {
        summary:
          'Assign slots without moving data: {mode:"range",from,to,group} (offline slots, or slots whose group holds no keys of them) or {mode:"even",groups?} (offline slots spread evenly)',
        tags: ['slots'],
        body: AssignBody,
        response: { 200: AssignResponse, ...errorResponses },
      },
    },
    async (req) => {
      const b = req.body;
      const detailOf = (r: { assigned: number; ranges: Array<{ from: number; to: number; group: number }>; warnings: string[] }) =>
        `assigned ${r.assigned} slots: ${r.ranges.map((x) => `${x.from}-${x.to}->g${x.group}`).join(', ')}${r.warnings.length ? `; warnings: ${r.warnings.join('; ')}` : ''}`;
      if (b.mode === 'range') {
        return mutate(ctx, req, 'slots.assign', `slots ${b.from}-${b.to}`, b, () => ctx.slots.assignRange(b.from, b.to, b.group, b.ifRevision), detailOf);
      }
      return mutate(ctx, req, 'slots.assign_even', 'offline slots', b, () => ctx.slots.assignEven(b.groups, b.ifRevision), detailOf);
    },
  );
}
