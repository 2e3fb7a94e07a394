import { h, replace } from './dom.js';

/** "name=value" lines (blank lines and # comments skipped) as [name, value] pairs. */
export function parseKeyValueLines(text, what) {
  const pairs = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new Error(`${what}, line ${i + 1}: write name=value`);
    pairs.push([trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim()]);
  });
  return pairs;
}

/**
 * Wires a form to an async action: the button is disabled while it runs, and a failure is
 * shown in the form's alert area, which screen readers announce.
 */
export function onSubmit(form, action) {
  const feedback = h('div', { class: 'form-feedback', 'aria-live': 'polite' });
  form.append(feedback);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    replace(feedback);
    try {
      const done = await action(new FormData(form));
      if (done) replace(feedback, done);
    } catch (err) {
      replace(feedback, h('p', { class: 'error', role: 'alert' }, err.message));
    } finally {
      button.disabled = false;
    }
  });
}

let fieldIds = 0;

/**
 * A labelled control. The hint (text, or an element the page updates) is the control's description, not part of its label, so the
 * accessible name stays the label alone ("Name", not "Name Letters, digits…").
 */
export function field(label, control, { hint, wide } = {}) {
  const id = `field-${++fieldIds}`;
  control.id = id;
  // A hint given as an element is one its page rewrites as the form changes.
  const hintEl = hint instanceof Node ? hint : hint ? h('span', { class: 'hint' }, hint) : null;
  if (hintEl) {
    hintEl.id ||= `${id}-hint`;
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: wide ? 'field wide' : 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** Radio buttons that look like a segmented control but stay native for the keyboard. */
export function segmented(name, legend, options, selected, onChange) {
  return h(
    'fieldset',
    { class: 'segmented-field' },
    h('legend', { class: 'visually-hidden' }, legend),
    h(
      'div',
      { class: 'segmented', role: 'radiogroup', 'aria-label': legend },
      options.map(([value, text]) =>
        h('label', null, h('input', { type: 'radio', name, value, checked: value === selected, onchange: () => onChange?.(value) }), text),
      ),
    ),
  );
}
