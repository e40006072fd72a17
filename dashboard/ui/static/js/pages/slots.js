// Slot map: 1024 cells coloured by owning group, migrating slots split source/target colour and marked, or
// (Colour by: load) by observed ops/s from the proxies' counters as a heat map; hover, click or keyboard
// shows a slot's details; a range (drag, shift+click, shift+arrows or the form) can be moved to a group.
import { get, hasRoute, put } from '../api.js';
import { heatColor, heatLevel } from '../heat.js';
import { bytes, confirmDialog, field, fill, h, messageArea, num, rangesText, runAction, syncOptions } from '../dom.js';
import { chip, groupColor, OFFLINE_COLOR } from '../chart.js';
import { migrationApi, startMove } from './migrations.js';

const COLS = 32;
const SLOTS = 1024;

export const slotsPage = {
  title: 'Slot map',
  mount(root, app) {
    let slots = [];
    let groups = [];
    let groupStats = new Map();
    let keyCounts = null; // Map slot -> keys, when the API offers it
    let active = 0; // keyboard cursor
    let anchor = null; // selection anchor
    let sel = null; // { from, to }
    let dragging = false;
    let inspected = null;
    let colourBy = 'group'; // or 'load'
    let load = null; // Map slot -> { opsPerSec, bytesPerSec } from GET /api/v1/load
    let maxOps = 0;

    // Grid: role=grid with 32 rows of 32 gridcells; one cell is in the tab order (roving tabindex).
    const grid = h('div.slot-grid', { role: 'grid', 'aria-label': 'Slot map, 1024 slots, 32 per row. Arrow keys move, Shift+arrows or Shift+click select a range, Enter selects one slot.', 'aria-multiselectable': 'true' });
    const cells = [];
    for (let r = 0; r < SLOTS / COLS; r++) {
      const row = h('div.slot-row', { role: 'row' }, h('span.row-label', { 'aria-hidden': 'true' }, String(r * COLS)));
      for (let c = 0; c < COLS; c++) {
        const id = r * COLS + c;
        const cell = h('div.slot', { role: 'gridcell', tabindex: id === 0 ? '0' : '-1', 'data-slot': String(id), 'aria-selected': 'false' });
        cells.push(cell);
        row.appendChild(cell);
      }
      grid.appendChild(row);
    }

    const colourSel = h('select', { name: 'colour-by', 'aria-label': 'Colour the map by' }, h('option', { value: 'group' }, 'group'), h('option', { value: 'load' }, 'load (ops/s)'));
    const heatNote = h('p.muted.small.heat-note', { hidden: true });
    colourSel.addEventListener('change', () => {
      colourBy = colourSel.value;
      heatNote.hidden = colourBy !== 'load';
      app.refreshNow();
    });
    const inspector = h('div.inspector', { 'aria-live': 'polite', 'aria-label': 'Slot details' }, h('p.muted', 'Hover, click or focus a slot to see its details.'));
    const legend = h('ul.legend-list', { 'aria-label': 'Groups' });
    const rangeList = h('div.range-list');

    const fromIn = h('input', { type: 'number', min: '0', max: String(SLOTS - 1), required: true, name: 'from', inputmode: 'numeric' });
    const toIn = h('input', { type: 'number', min: '0', max: String(SLOTS - 1), required: true, name: 'to', inputmode: 'numeric' });
    const groupSel = h('select', { name: 'group', required: true });
    const moveBtn = h('button', { type: 'submit' }, 'Move slots');
    const assignBtn = h('button.secondary', { type: 'button' }, 'Assign without moving data');
    const evenBtn = h('button.secondary', { type: 'button' }, 'Spread offline slots evenly');
    const msg = messageArea();
    const selInfo = h('p.muted.small', { 'aria-live': 'polite' });
    const form = h(
      'form.move-form',
      { 'aria-labelledby': 'move-title' },
      h('h2#move-title', 'Move a range'),
      h('div.row', field('From slot', fromIn), field('To slot', toIn), field('Target group', groupSel)),
      selInfo,
      h('div.buttons', moveBtn, assignBtn, evenBtn),
      h('p.hint', 'Move migrates the keys online. Assign only rewrites the map: for offline slots, or slots whose group holds none of their keys.'),
      msg.el,
    );

    root.append(
      h(
        'div.slots-layout',
        h('section.panel.grid-panel', { 'aria-labelledby': 'map-title' }, h('h2#map-title', 'Slots'), h('label.colour-by', 'Colour by ', colourSel), grid, h('p.muted.small', 'Striped cells are migrating: left colour is the source group, right colour the target.'), heatNote),
        h('div.side', h('section.panel', { 'aria-labelledby': 'insp-title' }, h('h2#insp-title', 'Slot'), inspector), h('section.panel', { 'aria-labelledby': 'legend-title' }, h('h2#legend-title', 'Groups'), legend), h('section.panel', form)),
      ),
      h('section.panel', { 'aria-labelledby': 'ranges-title' }, h('h2#ranges-title', 'Ranges'), rangeList),
    );

    // --- selection -------------------------------------------------------------------------------------
    function setSelection(a, b, fromForm = false) {
      if (a === null || a === undefined || Number.isNaN(a)) {
        sel = null;
      } else {
        const lo = Math.max(0, Math.min(a, b));
        const hi = Math.min(SLOTS - 1, Math.max(a, b));
        sel = { from: lo, to: hi };
      }
      for (let i = 0; i < SLOTS; i++) {
        const on = sel !== null && i >= sel.from && i <= sel.to;
        if (cells[i].classList.contains('selected') !== on) {
          cells[i].classList.toggle('selected', on);
          cells[i].setAttribute('aria-selected', on ? 'true' : 'false');
        }
      }
      if (!fromForm) {
        fromIn.value = sel ? String(sel.from) : '';
        toIn.value = sel ? String(sel.to) : '';
      }
      describeSelection();
    }

    function describeSelection() {
      if (!sel) {
        selInfo.textContent = 'No slots selected: drag over the map, Shift+click, or type a range.';
        return;
      }
      const byGroup = new Map();
      for (let i = sel.from; i <= sel.to; i++) {
        const g = slots[i]?.group ?? 0;
        byGroup.set(g, (byGroup.get(g) ?? 0) + 1);
      }
      const parts = [...byGroup.entries()].sort((a, b) => a[0] - b[0]).map(([g, n]) => `${n} in ${g ? `group ${g}` : 'offline'}`);
      selInfo.textContent = `${sel.to - sel.from + 1} slot(s) selected (${sel.from}-${sel.to}): ${parts.join(', ')}.`;
    }

    function focusCell(i, extend) {
      i = Math.max(0, Math.min(SLOTS - 1, i));
      cells[active].tabIndex = -1;
      active = i;
      cells[i].tabIndex = 0;
      cells[i].focus();
      if (extend) {
        if (anchor === null) anchor = i;
        setSelection(anchor, i);
      }
      inspect(i);
    }

    grid.addEventListener('keydown', (ev) => {
      const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLS, ArrowDown: COLS, PageUp: -COLS * 8, PageDown: COLS * 8 }[ev.key];
      if (step !== undefined) {
        ev.preventDefault();
        if (ev.shiftKey && anchor === null) anchor = active;
        focusCell(active + step, ev.shiftKey);
      } else if (ev.key === 'Home' || ev.key === 'End') {
        ev.preventDefault();
        const rowStart = active - (active % COLS);
        const target = ev.ctrlKey ? (ev.key === 'Home' ? 0 : SLOTS - 1) : ev.key === 'Home' ? rowStart : rowStart + COLS - 1;
        if (ev.shiftKey && anchor === null) anchor = active;
        focusCell(target, ev.shiftKey);
      } else if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        if (ev.shiftKey && anchor !== null) setSelection(anchor, active);
        else {
          anchor = active;
          setSelection(active, active);
        }
      } else if (ev.key === 'Escape') {
        anchor = null;
        setSelection(null);
      }
    });
    grid.addEventListener('mousedown', (ev) => {
      const cell = ev.target.closest?.('.slot');
      if (!cell || ev.button !== 0) return;
      ev.preventDefault();
      const i = Number(cell.dataset.slot);
      if (ev.shiftKey && anchor !== null) setSelection(anchor, i);
      else {
        anchor = i;
        setSelection(i, i);
      }
      dragging = true;
      focusCell(i, false);
    });
    grid.addEventListener('mouseover', (ev) => {
      const cell = ev.target.closest?.('.slot');
      if (!cell) return;
      const i = Number(cell.dataset.slot);
      if (dragging && anchor !== null) setSelection(anchor, i);
      inspect(i);
    });
    const stopDrag = () => (dragging = false);
    window.addEventListener('mouseup', stopDrag);
    grid.addEventListener('focusin', (ev) => {
      const cell = ev.target.closest?.('.slot');
      if (cell) inspect(Number(cell.dataset.slot));
    });
    const onFormInput = () => {
      const a = fromIn.value === '' ? NaN : Number(fromIn.value);
      const b = toIn.value === '' ? a : Number(toIn.value);
      if (Number.isInteger(a) && Number.isInteger(b)) {
        anchor = a;
        setSelection(a, b, true);
      }
    };
    fromIn.addEventListener('input', onFormInput);
    toIn.addEventListener('input', onFormInput);

    // --- details ---------------------------------------------------------------------------------------
    function inspect(i) {
      inspected = i;
      const s = slots[i];
      if (!s) return;
      const g = groups.find((x) => x.id === s.group);
      const master = g?.servers.find((x) => x.role === 'master')?.addr;
      let keys = 'not reported by the API';
      if (keyCounts && keyCounts.has(i)) keys = num(keyCounts.get(i));
      else if (g && g.slotCount > 0 && groupStats.has(g.id)) keys = `≈ ${num(groupStats.get(g.id).keys / g.slotCount)} (group average)`;
      const rows = [
        ['Slot', String(i)],
        ['Group', s.group ? `group ${s.group}` : 'offline (no group)'],
        ['Master', master ?? '–'],
        ['State', s.action ? `${s.action.aborted ? 'aborting, ' : ''}${s.action.state}` : s.group ? 'serving' : 'offline'],
      ];
      if (s.action) {
        rows.push(['Target', `group ${s.action.target}`]);
        if (s.action.job) rows.push(['Job', s.action.job]);
      }
      rows.push(['Keys', keys]);
      if (load) {
        const l = load.get(i);
        rows.push(['Load', l ? `${num(l.opsPerSec)} ops/s, ${bytes(l.bytesPerSec)}/s` : 'idle']);
      }
      fill(inspector,
        h('dl.kv', { 'data-inspected': String(i) }, rows.map(([k, v]) => [h('dt', k), h('dd', k === 'Group' ? [chip(s.group), ' ', v] : k === 'Target' ? [chip(s.action.target), ' ', v] : v)])),
      );
    }

    // --- actions ---------------------------------------------------------------------------------------
    function readForm() {
      const from = Number(fromIn.value);
      const to = Number(toIn.value);
      const group = Number(groupSel.value);
      if (!Number.isInteger(from) || !Number.isInteger(to) || fromIn.value === '' || toIn.value === '') throw new Error('enter the first and last slot of the range (0-1023)');
      if (from > to) throw new Error(`the range ${from}-${to} is empty: the first slot must not be after the last`);
      if (!Number.isInteger(group) || group <= 0) throw new Error('choose a target group');
      return { from, to, group };
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let r;
      try {
        r = readForm();
      } catch (err) {
        msg.error(err, 'Moving slots');
        return;
      }
      const ok = await confirmDialog('Move slots', `Move slots ${r.from}-${r.to} (${r.to - r.from + 1} slots) and their keys to group ${r.group}?`, 'Move');
      if (!ok) return;
      await runAction(moveBtn, msg, `Moving slots ${r.from}-${r.to} to group ${r.group}`, () => startMove(r.from, r.to, r.group), (res) => `Started: ${res.summary}. Follow it on the Migrations page.`);
      app.refreshNow();
    });

    assignBtn.addEventListener('click', async () => {
      let r;
      try {
        r = readForm();
      } catch (err) {
        msg.error(err, 'Assigning slots');
        return;
      }
      const ok = await confirmDialog('Assign slots', `Assign slots ${r.from}-${r.to} to group ${r.group} without moving any data? The dashboard refuses if their current group holds keys of them.`, 'Assign');
      if (!ok) return;
      await runAction(assignBtn, msg, `Assigning slots ${r.from}-${r.to} to group ${r.group}`, () => put('/api/v1/slots/assignment', { mode: 'range', from: r.from, to: r.to, group: r.group }), (res) => `Assigned ${res.assigned} slot(s)${res.warnings.length ? `; warnings: ${res.warnings.join('; ')}` : ''}.`);
      app.refreshNow();
    });

    evenBtn.addEventListener('click', async () => {
      const offline = slots.filter((s) => s.group === 0).length;
      const ok = await confirmDialog('Spread offline slots', `Spread the ${offline} offline slot(s) evenly over every group with a master?`, 'Assign');
      if (!ok) return;
      await runAction(evenBtn, msg, 'Assigning offline slots', () => put('/api/v1/slots/assignment', { mode: 'even' }), (res) => `Assigned ${res.assigned} slot(s)${res.warnings.length ? `; warnings: ${res.warnings.join('; ')}` : ''}.`);
      app.refreshNow();
    });

    // --- refresh ---------------------------------------------------------------------------------------
    function paint() {
      for (let i = 0; i < SLOTS; i++) {
        const s = slots[i];
        const cell = cells[i];
        const g = s ? s.group : 0;
        const t = s?.action ? s.action.target : 0;
        const ops = colourBy === 'load' ? (load?.get(i)?.opsPerSec ?? 0) : 0;
        const heat = colourBy === 'load' ? heatLevel(ops, maxOps) : -1;
        const sig = `${g}/${t}/${s?.action?.state ?? ''}/${heat}/${heat >= 0 ? Math.round(ops) : ''}`;
        if (cell.dataset.sig === sig) continue;
        cell.dataset.sig = sig;
        cell.dataset.group = String(g);
        if (t) cell.dataset.target = String(t);
        else delete cell.dataset.target;
        if (heat >= 0) cell.dataset.heat = String(heat);
        else delete cell.dataset.heat;
        cell.classList.toggle('offline', g === 0);
        cell.classList.toggle('migrating', Boolean(t));
        if (heat >= 0) cell.style.background = heatColor(heat);
        else if (t) cell.style.background = `linear-gradient(135deg, ${groupColor(g)} 0 50%, ${groupColor(t)} 50% 100%)`;
        else cell.style.background = g ? groupColor(g) : OFFLINE_COLOR;
        const state = s?.action ? `, ${s.action.state}, moving to group ${t}` : '';
        const loadText = heat >= 0 ? `, ${num(ops)} ops/s` : '';
        cell.setAttribute('aria-label', `slot ${i}, ${g ? `group ${g}` : 'offline'}${state}${loadText}`);
        cell.title = `slot ${i} · ${g ? `group ${g}` : 'offline'}${t ? ` → group ${t} (${s.action.state})` : ''}${loadText ? ` · ${num(ops)} ops/s` : ''}`;
      }
    }

    return {
      intervalMs: 2000,
      async refresh() {
        const mig = migrationApi();
        const [sl, gr, ov] = await Promise.all([get('/api/v1/slots'), get('/api/v1/groups'), get('/api/v1/overview?history=false').catch(() => null)]);
        slots = sl.slots;
        groups = gr.groups;
        groupStats = new Map((ov?.current?.groups ?? []).map((g) => [g.id, g]));
        const ld = colourBy === 'load' && hasRoute('GET', '/api/v1/load') ? await get('/api/v1/load').catch(() => null) : null;
        load = ld ? new Map(ld.slots.map((x) => [x.id, x])) : null;
        maxOps = ld ? Math.max(0, ...ld.slots.map((x) => x.opsPerSec)) : 0;
        if (colourBy === 'load') {
          heatNote.textContent = ld
            ? `Heat = ops/s per slot from ${ld.proxies.length} prox${ld.proxies.length === 1 ? 'y' : 'ies'}, log scale: hottest slot ${num(maxOps)} ops/s. Per group: ${ld.groups.map((g) => `group ${g.id} ${num(g.opsPerSec)} ops/s`).join(', ') || 'none'}.`
            : 'This dashboard does not serve GET /api/v1/load.';
        }
        paint();
        moveBtn.disabled = !mig.start;
        moveBtn.title = mig.start ? '' : 'This dashboard does not serve the migration API (POST /api/v1/migrations)';
        // Target group choices (kept if still present).
        syncOptions(groupSel, groups.map((g) => [String(g.id), `group ${g.id}${g.servers.some((s) => s.role === 'master') ? '' : ' (no master)'}`]));
        const counts = new Map();
        let migrating = 0;
        for (const s of slots) {
          counts.set(s.group, (counts.get(s.group) ?? 0) + 1);
          if (s.action) migrating++;
        }
        fill(legend,
          ...groups.map((g) => h('li', { 'data-group': String(g.id) }, chip(g.id), ` group ${g.id}: ${counts.get(g.id) ?? 0} slots`, g.weight !== 1 ? ` (weight ${g.weight})` : '')),
          h('li', chip(0), ` offline: ${counts.get(0) ?? 0} slots`),
          h('li', h('span.chip.chip-migrating', { 'aria-hidden': 'true' }), ` migrating: ${migrating} slots`),
        );
        evenBtn.hidden = (counts.get(0) ?? 0) === 0;
        fill(rangeList,
          h(
            'table.data',
            h('caption.visually-hidden', 'Slot ranges per group'),
            h('thead', h('tr', h('th', { scope: 'col' }, 'Slots'), h('th', { scope: 'col' }, 'Count'), h('th', { scope: 'col' }, 'Group'))),
            h('tbody', sl.ranges.map((r) => h('tr', h('td', r.from === r.to ? String(r.from) : `${r.from}-${r.to}`), h('td', num(r.to - r.from + 1)), h('td', chip(r.group), r.group ? ` group ${r.group}` : ' offline')))),
          ),
          ...(migrating ? [h('p.small', `Migrating: ${rangesText(slots.filter((s) => s.action).map((s) => s.id))}`)] : []),
        );
        if (inspected !== null) inspect(inspected);
        if (sel) describeSelection();
        else if (!selInfo.textContent) describeSelection();
      },
      unmount() {
        window.removeEventListener('mouseup', stopDrag);
      },
    };
  },
};
