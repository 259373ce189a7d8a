// NO_PROXY as curl reads it (src/agent/no-proxy.ts), including the shortcuts taken per request:
// an unset NO_PROXY matches nothing, and a list without CIDRs never classifies the host as an IP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNoProxy } from '../../src/agent/no-proxy.ts';

test('unset or empty NO_PROXY: nothing goes direct', () => {
  for (const v of [undefined, '', ' , ']) {
    const np = parseNoProxy(v);
    assert.equal(np('example.com', 80), false);
    assert.equal(np('127.0.0.1', 80), false);
    assert.equal(np('[::1]', 443), false);
  }
});

test('* sends everything direct', () => {
  assert.equal(parseNoProxy('foo, *')('anything.test', 1), true);
});

test('names: exact, subdomains (bare or leading dot), optional port, case-insensitive', () => {
  const np = parseNoProxy('Example.com, .internal.test, svc.local:8080');
  assert.equal(np('example.com', 80), true);
  assert.equal(np('API.example.com', 443), true);
  assert.equal(np('badexample.com', 80), false);
  assert.equal(np('a.internal.test', 80), true);
  assert.equal(np('internal.test', 80), true);
  assert.equal(np('svc.local', 8080), true);
  assert.equal(np('svc.local', 80), false);
});

test('IP literals in a list without CIDRs match as names', () => {
  const np = parseNoProxy('localhost,127.0.0.1,[::1]');
  assert.equal(np('127.0.0.1', 8080), true);
  assert.equal(np('127.0.0.2', 8080), false);
  assert.equal(np('[::1]', 80), true);
  assert.equal(np('localhost', 80), true);
});

test('CIDRs match IPv4 and IPv6 hosts inside them, and names still match', () => {
  const np = parseNoProxy('10.0.0.0/8, fd00::/8, corp.test');
  assert.equal(np('10.1.2.3', 80), true);
  assert.equal(np('11.1.2.3', 80), false);
  assert.equal(np('[fd00::1]', 443), true);
  assert.equal(np('[fe80::1]', 443), false);
  assert.equal(np('x.corp.test', 80), true);
  assert.equal(np('10.example', 80), false);
});
