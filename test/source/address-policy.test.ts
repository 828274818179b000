/**
 * The pure SSRF policy: address classification (IPv4, IPv6, embedded IPv4 forms), URL vetting and
 * allow-list matching. No sockets here; this is where "public addresses are allowed" is proven.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import {
  checkUrl,
  classifyAddress,
  classifyIPv4Number,
  matchAllowList,
  mayConnect,
  originMayBePrivate,
  parseAllowList,
  parseIPv4,
  parseIPv6,
  type AddressClass,
} from '../../src/adapters/source/address-policy.js';

describe('classifyAddress', () => {
  const table: [string, AddressClass][] = [
    // IPv4
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.128.0.1', 'public'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.1', 'reserved'],
    ['203.0.113.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['2606:4700:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv4 embedded in IPv6
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['::10.1.2.3', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', 'public'],
  ];
  for (const [addr, cls] of table) {
    it(`${addr} is ${cls}`, () => assert.equal(classifyAddress(addr), cls));
  }

  it('host names and junk are not addresses', () => {
    for (const s of ['example.com', 'localhost', '127.1', '0x7f000001', '2130706433', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', ':::1', '1::2::3', 'g::1', '', '[::1', '1:2:3:4:5:6:7:8:9']) {
      assert.equal(classifyAddress(s), undefined, s);
    }
  });

  it('parseIPv6 agrees with node:net on validity and round-trips the full form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const words = [];
        for (let i = 0; i < 16; i += 2) words.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
        const text = words.join(':');
        assert.ok(isIPv6(text));
        assert.deepEqual([...(parseIPv6(text) ?? [])], [...bytes]);
        // The compressed form node prints (via URL) parses to the same bytes.
        const compressed = new URL(`http://[${text}]/`).hostname;
        assert.deepEqual([...(parseIPv6(compressed) ?? [])], [...bytes]);
      }),
    );
  });

  it('every IPv4-mapped, -compatible and NAT64 form classifies like its IPv4 address', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x01000000, max: 0xffffffff }), (n) => {
        const v4 = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
        const want = classifyIPv4Number(n);
        assert.equal(classifyAddress(v4), want);
        assert.equal(classifyAddress(`::ffff:${v4}`), want);
        assert.equal(classifyAddress(`64:ff9b::${v4}`), want);
        assert.equal(classifyAddress(new URL(`http://[::ffff:${v4}]/`).hostname), want);
      }),
    );
  });

  it('parseIPv4 takes canonical dotted decimal only', () => {
    assert.equal(parseIPv4('127.0.0.1'), 0x7f000001);
    for (const s of ['127.1', '0177.0.0.1', '0x7f.0.0.1', '127.0.0.1 ', '1.2.3.256']) assert.equal(parseIPv4(s), undefined, s);
  });
});

describe('mayConnect', () => {
  it('public always; private kinds only for allowed origins; metadata/reserved/multicast/unspecified never', () => {
    const all: AddressClass[] = ['public', 'loopback', 'private', 'link-local', 'unique-local', 'metadata', 'multicast', 'unspecified', 'reserved'];
    assert.deepEqual(all.filter((c) => mayConnect(c, false)), ['public']);
    assert.deepEqual(all.filter((c) => mayConnect(c, true)), ['public', 'loopback', 'private', 'link-local', 'unique-local']);
  });
});

describe('allow-list', () => {
  const list = parseAllowList([
    'https://images.example.com',
    '*.cdn.example.org',
    'http://127.0.0.1:8080',
    'media.example.net/public/',
    'http://[::1]:9000',
    'assets.example.com:*',
    '',
  ]);
  const match = (u: string): string | undefined => matchAllowList(list, new URL(u))?.raw;

  it('exact origins, wildcards, ports and path prefixes', () => {
    assert.equal(match('https://images.example.com/a.jpg'), 'https://images.example.com');
    assert.equal(match('https://IMAGES.example.com:443/a.jpg'), 'https://images.example.com');
    assert.equal(match('http://images.example.com/a.jpg'), undefined, 'scheme is part of the origin');
    assert.equal(match('https://images.example.com:8443/a.jpg'), undefined, 'port is part of the origin');
    assert.equal(match('https://evil-images.example.com/a.jpg'), undefined);
    assert.equal(match('https://images.example.com.evil.com/a.jpg'), undefined);
    assert.equal(match('https://cdn.example.org/a.jpg'), '*.cdn.example.org', 'wildcard covers the apex');
    assert.equal(match('http://a.b.cdn.example.org/a.jpg'), '*.cdn.example.org', 'and every subdomain, either scheme');
    assert.equal(match('https://xcdn.example.org/a.jpg'), undefined);
    assert.equal(match('http://127.0.0.1:8080/x'), 'http://127.0.0.1:8080');
    assert.equal(match('http://127.0.0.1:8081/x'), undefined);
    assert.equal(match('http://127.0.0.1/x'), undefined);
    assert.equal(match('https://media.example.net/public/a.jpg'), 'media.example.net/public/');
    assert.equal(match('https://media.example.net/private/a.jpg'), undefined);
    assert.equal(match('https://media.example.net/public/../private/a.jpg'), undefined);
    assert.equal(match('http://[::1]:9000/a'), 'http://[::1]:9000');
    assert.equal(match('http://[0:0:0:0:0:0:0:1]:9000/a'), 'http://[::1]:9000');
    assert.equal(match('https://assets.example.com:8443/a'), 'assets.example.com:*');
  });

  it('origin-level private permission ignores the path but not the port', () => {
    assert.equal(originMayBePrivate(list, 'http:', '127.0.0.1', '8080'), true);
    assert.equal(originMayBePrivate(list, 'http:', '127.0.0.1', '8081'), false);
    assert.equal(originMayBePrivate(list, 'https:', 'media.example.net', ''), true);
  });

  it('a bare * means any public origin and grants no private access', () => {
    const any = parseAllowList(['*']);
    assert.equal(any.anyOrigin, true);
    assert.equal(originMayBePrivate(any, 'http:', '127.0.0.1', ''), false);
    const r = checkUrl('http://127.0.0.1/x', { allowList: any, anyPublicOrigin: false });
    assert.equal(r.ok ? 'ok' : r.error.code, 'FETCH_FORBIDDEN_ADDRESS');
    const pub = checkUrl('https://example.com/x', { allowList: any, anyPublicOrigin: false });
    assert.equal(pub.ok, true);
  });

  it('bad entries are configuration errors', () => {
    for (const bad of ['ftp://example.com', 'http://user@example.com', '*.10.0.0.1', 'http://exa mple.com', 'example.com?x=1']) {
      assert.throws(() => parseAllowList([bad]), /allowed origin/, bad);
    }
  });
});

describe('checkUrl', () => {
  const policy = { allowList: parseAllowList(['http://127.0.0.1:8080']), anyPublicOrigin: true };
  const code = (u: string): string => {
    const r = checkUrl(u, policy);
    return r.ok ? 'ok' : r.error.code;
  };

  it('accepts public http(s) URLs and the allowed loopback origin', () => {
    assert.equal(code('https://example.com/cat.jpg'), 'ok');
    assert.equal(code('http://8.8.8.8/cat.jpg'), 'ok');
    assert.equal(code('https://[2606:4700:4700::1111]/a'), 'ok');
    assert.equal(code('http://127.0.0.1:8080/a'), 'ok');
    assert.equal(code('https://example.com/a b/ünï.jpg'), 'ok');
  });

  it('refuses every loopback spelling, private literals and local names', () => {
    for (const u of [
      'http://127.0.0.1/',
      'http://127.0.0.1:8081/',
      'http://0x7f000001/',
      'http://2130706433/',
      'http://127.1/',
      'http://0177.0.0.1/',
      'http://0x7f.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:7f00:1]:8080/',
      'http://localhost:8080/',
      'http://foo.localhost/',
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://0.0.0.0/',
      'http://0/',
      'http://[::]/',
      'http://[64:ff9b::7f00:1]/',
      'http://[2002:7f00:1::]/',
    ]) {
      assert.equal(code(u), 'FETCH_FORBIDDEN_ADDRESS', u);
    }
  });

  it('refuses other schemes, userinfo, blocked ports, non-canonical numbers and overlong URLs', () => {
    for (const u of [
      'ftp://example.com/a',
      'file:///etc/passwd',
      'gopher://example.com/',
      'http://user:pass@example.com/',
      'http://user@example.com/',
      'http://example.com:25/',
      'https://example.com:22/',
      'http://0x08080808/',
      'http://134744072/',
      'http://8.8.2056/',
      'http://0x7f000001:8080/',
      'http://127.0.0.1.:8080/',
      `https://example.com/${'a'.repeat(9000)}`,
      'https://',
      '',
    ]) {
      assert.equal(code(u), 'FETCH_INVALID_URL', u);
    }
  });

  it('strict mode refuses origins that are not listed', () => {
    const strict = { allowList: parseAllowList(['https://*.example.com/img/']), anyPublicOrigin: false };
    const c = (u: string): string => {
      const r = checkUrl(u, strict);
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(c('https://a.example.com/img/x.jpg'), 'ok');
    assert.equal(c('https://a.example.com/other/x.jpg'), 'FETCH_ORIGIN_NOT_ALLOWED');
    assert.equal(c('https://example.org/img/x.jpg'), 'FETCH_ORIGIN_NOT_ALLOWED');
    assert.equal(c('http://a.example.com/img/x.jpg'), 'FETCH_ORIGIN_NOT_ALLOWED');
  });

  it('redirect vetting reports unparsable targets as FETCH_BAD_REDIRECT', () => {
    const r = checkUrl('javascript:alert(1)', policy, 'FETCH_BAD_REDIRECT');
    assert.equal(r.ok ? 'ok' : r.error.code, 'FETCH_BAD_REDIRECT');
  });
});
