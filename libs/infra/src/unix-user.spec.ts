import { describe, expect, it } from 'vitest';

import { parsePasswd } from './unix-user.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/bash',
  'concord-pg:x:999:995::/nonexistent:/usr/sbin/nologin',
  'broken:x:notanumber:1::/:/bin/sh',
  '',
].join('\n');

describe('parsePasswd', () => {
  it('reads uid and gid of the named account', () => {
    expect(parsePasswd(passwd, 'concord-pg')).toEqual({ name: 'concord-pg', uid: 999, gid: 995 });
  });

  it('does not match a prefix of another name, nor a malformed line', () => {
    expect(parsePasswd(passwd, 'concord')).toBeUndefined();
    expect(parsePasswd(passwd, 'broken')).toBeUndefined();
  });
});
