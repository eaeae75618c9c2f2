/**
 * Response bytes for the socket-level fast path (src/httpboot/plain-response.ts). Byte-for-byte
 * agreement with Node's ServerResponse is tested against Node itself in ipxe-fast-path.test.ts;
 * these are the cases that test does not reach.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlainResponses } from '../../src/httpboot/plain-response.js';

describe('plain text responses', () => {
  const keep = { keepAlive: true, keepAliveTimeout: 72_000 };

  it('builds a GET answer once per second and body, and HEAD and close answers each time', () => {
    const responses = new PlainResponses();
    const body = `#!ipxe\n${'x'.repeat(100)}\n`;
    const a = responses.bytes(200, body, false, keep);
    assert.equal(responses.bytes(200, body, false, keep), a, 'the same bytes, not rebuilt');
    assert.notEqual(responses.bytes(200, body, false, { keepAlive: true, keepAliveTimeout: 5000 }), a, 'another keep-alive hint');
    assert.notEqual(responses.bytes(500, body, false, keep).toString('latin1'), a.toString('latin1'), 'another status');
    assert.notEqual(responses.bytes(200, body, true, keep), responses.bytes(200, body, true, keep));
  });

  it('writes the head Node writes, and UTF-8 bodies with their byte length', () => {
    const text = new PlainResponses().bytes(404, 'été\n', false, keep).toString('utf8');
    assert.match(text, /^HTTP\/1\.1 404 Not Found\r\ncontent-type: text\/plain\r\ncontent-length: 6\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=72\r\n\r\nété\n$/);
  });

  it('says close, or keep-alive without a hint when the keep-alive timeout is 0 (as Node does)', () => {
    const responses = new PlainResponses();
    assert.match(responses.bytes(200, 'x', false, { keepAlive: false, keepAliveTimeout: 72_000 }).toString(), /\r\nConnection: close\r\n\r\nx$/);
    const noHint = responses.bytes(200, 'x', false, { keepAlive: true, keepAliveTimeout: 0 }).toString();
    assert.match(noHint, /\r\nConnection: keep-alive\r\n\r\nx$/);
    assert.doesNotMatch(noHint, /Keep-Alive:/);
    assert.match(responses.bytes(200, 'x', false, { keepAlive: true, keepAliveTimeout: 1500 }).toString(), /\r\nKeep-Alive: timeout=1\r\n/);
  });

  it('leaves the body out of a HEAD answer but not its length', () => {
    const text = new PlainResponses().bytes(200, 'hello', true, keep).toString();
    assert.match(text, /\r\ncontent-length: 5\r\n/);
    assert.ok(text.endsWith('\r\n\r\n'));
  });
});
