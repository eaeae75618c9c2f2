/**
 * The shared XML tree (src/xml/tree.ts) that engine bodies and libvirt documents are read into:
 * the guards against hostile input, namespace prefixes, text positions, and both writing layouts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { el, find, findAll, kids, parseXml, removeKids, text, textEl, toXml, type Parsed, type XEl } from '../../src/xml/tree.js';

function ok(r: Parsed<XEl>): XEl {
  assert.equal(r.ok, true, r.ok ? '' : r.reason);
  return (r as { ok: true; value: XEl }).value;
}

function refused(r: Parsed<XEl>, reason: RegExp): void {
  assert.equal(r.ok, false);
  assert.match((r as { ok: false; reason: string }).reason, reason);
}

describe('reading', () => {
  it('keeps element order and text positions, trims text and drops indentation', () => {
    const doc = ok(parseXml('<?xml version="1.0"?>\n<a x="1">\n  before\n  <b>one</b>\n  <c/>\n  after\n  <b>two</b>\n</a>'));
    assert.deepEqual(doc, {
      name: 'a',
      attrs: { x: '1' },
      children: ['before', { name: 'b', attrs: {}, children: ['one'] }, { name: 'c', attrs: {}, children: [] }, 'after', { name: 'b', attrs: {}, children: ['two'] }],
    });
    assert.equal(text(doc), 'beforeafter');
    assert.deepEqual(findAll(doc, 'b').map((b) => text(b)), ['one', 'two']);
    assert.equal(text(find(doc, 'c')), '');
    assert.equal(find(doc, 'c/d'), undefined);
  });

  it('removes namespace prefixes unless asked to keep them (documents that are written back)', () => {
    const body = '<domain xmlns:rb="urn:x"><metadata><rb:template rb:min="1"/></metadata></domain>';
    assert.equal(kids(find(ok(parseXml(body)), 'metadata'))[0]!.name, 'template');
    const kept = kids(find(ok(parseXml(body, { keepPrefixes: true })), 'metadata'))[0]!;
    assert.deepEqual([kept.name, kept.attrs], ['rb:template', { 'rb:min': '1' }]);
  });

  it('reads the five XML entities', () => {
    assert.equal(text(ok(parseXml('<a>&lt;&amp;&gt;&quot;&apos;</a>'))), `<&>"'`);
  });

  it('refuses hostile and malformed documents with a reason, never an exception', () => {
    refused(parseXml('<!DOCTYPE a [<!ENTITY x "xx">]><a>&x;</a>'), /DTD/);
    refused(parseXml('<a>'.repeat(80) + '</a>'.repeat(80)), /nested too deeply/);
    refused(parseXml('<a/><b/>'), /more than one root/);
    refused(parseXml('just text'), /root|malformed/);
    refused(parseXml('<a><b></a>'), /malformed/);
    refused(parseXml(`<a>${'x'.repeat(100)}</a>`, { maxChars: 64 }), /larger than 64/);
    for (const bad of ['', '<', '<a', '\u0000<a/>', '<a b="1" b="2"/>', '<' + 'a>'.repeat(5000)]) assert.doesNotThrow(() => parseXml(bad));
  });
});

describe('writing', () => {
  const doc = el('vm', { id: `a"b'c<&>` }, [textEl('name', 'x<y & "z"'), el('empty'), el('os', {}, [el('boot', { dev: 'hd' })]), undefined, false]);

  it('writes compactly by default, escaping text and attribute values', () => {
    assert.equal(toXml(doc), '<vm id="a&quot;b&apos;c&lt;&amp;&gt;"><name>x&lt;y &amp; "z"</name><empty/><os><boot dev="hd"/></os></vm>');
    assert.equal(toXml(textEl('name', '')), '<name/>');
  });

  it('writes one element a line when pretty, with mixed text on lines of its own', () => {
    const mixed = el('a', {}, ['lead', el('b', {}, ['t']), el('c')]);
    assert.equal(toXml(mixed, { pretty: true }), '<a>\n  lead\n  <b>t</b>\n  <c/>\n</a>\n');
  });

  it('reads back what it writes, in both layouts', () => {
    assert.deepEqual(ok(parseXml(toXml(doc))), doc);
    assert.deepEqual(ok(parseXml(toXml(doc, { pretty: true }))), doc);
  });

  it('removes children by name, or those a predicate picks', () => {
    const n = el('host', {}, [textEl('name', ''), textEl('name', 'h1'), textEl('address', 'a')]);
    removeKids(n, 'name', (c) => text(c) === '');
    assert.equal(toXml(n), '<host><name>h1</name><address>a</address></host>');
    removeKids(n, 'name');
    assert.equal(toXml(n), '<host><address>a</address></host>');
  });
});
