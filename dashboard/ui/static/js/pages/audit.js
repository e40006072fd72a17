// Audit log: every mutating call, newest first, with paging backwards.
import { get } from '../api.js';
import { badge, fill, h, messageArea, time } from '../dom.js';

const PAGE = 100;

export const auditPage = {
  title: 'Audit log',
  mount(root) {
    const body = h('div.table-wrap');
    const filter = h('input', { type: 'search', id: 'audit-filter', placeholder: 'filter by action, who, target or detail', autocomplete: 'off' });
    const more = h('button.secondary', { type: 'button' }, 'Load older entries');
    const msg = messageArea();
    root.append(h('section.panel', h('div.row', h('div.field', h('label', { for: 'audit-filter' }, 'Filter'), filter)), body, h('div.buttons', more), msg.el));
    let newest = []; // refreshed page (latest PAGE entries)
    let older = []; // loaded by "older"

    function render() {
      // Keep opened parameter boxes open across refreshes.
      const open = new Set([...body.querySelectorAll('details[open]')].map((d) => d.dataset.id));
      const q = filter.value.trim().toLowerCase();
      const seen = new Set();
      const all = [...newest, ...older].filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
      const shown = q ? all.filter((e) => [e.action, e.who, e.target, e.detail, e.result].some((x) => x && String(x).toLowerCase().includes(q))) : all;
      if (shown.length === 0) {
        fill(body, h('p', all.length ? 'No entry matches the filter.' : 'The audit log is empty.'));
        return;
      }
      fill(body,
        h(
          'table.data.audit',
          h('caption.visually-hidden', 'Audit entries, newest first'),
          h('thead', h('tr', ['When', 'Who', 'Action', 'Target', 'Result', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            shown.map((e) =>
              h(
                'tr',
                { 'data-result': e.result },
                h('td.nowrap', time(e.at)),
                h('td', e.who),
                h('td', h('code', e.action)),
                h('td', e.target ?? ''),
                h('td', badge(e.result, e.result === 'ok' ? 'good' : e.result === 'refused' ? 'warn' : 'bad')),
                h('td.detail', e.detail ?? '', e.params !== undefined ? h('details', { 'data-id': e.id, open: open.has(e.id) }, h('summary', 'parameters'), h('pre', JSON.stringify(e.params, null, 2))) : null),
              ),
            ),
          ),
        ),
      );
    }
    filter.addEventListener('input', render);
    more.addEventListener('click', async () => {
      const last = (older.length ? older : newest).at(-1);
      if (!last) return;
      more.disabled = true;
      try {
        const r = await get(`/api/v1/audit?limit=${PAGE}&before=${encodeURIComponent(last.id)}`);
        older.push(...r.entries);
        msg.info(r.entries.length ? `Loaded ${r.entries.length} older entries.` : 'No older entries.');
        render();
      } catch (err) {
        msg.error(err, 'Loading older entries');
      } finally {
        more.disabled = false;
      }
    });
    return {
      intervalMs: 5000,
      async refresh() {
        const r = await get(`/api/v1/audit?limit=${PAGE}`);
        newest = r.entries;
        render();
      },
    };
  },
};
