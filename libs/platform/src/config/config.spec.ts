import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseConfigShape, ConfigError, env, loadConfig } from './config.js';

const schema = z.object({
  ...baseConfigShape,
  PORT: env.port('HTTP port.', 8080),
  PEERS: env.urlList('Peers.'),
});

describe('loadConfig', () => {
  it('applies defaults and coerces types', () => {
    const config = loadConfig(schema, { PEERS: 'http://a:1, http://b:2' });
    expect(config.PORT).toBe(8080);
    expect(config.HOST).toBe('127.0.0.1');
    expect(config.PEERS).toEqual(['http://a:1', 'http://b:2']);
  });

  it('names the variable that is not a number', () => {
    expect(() => loadConfig(schema, { PORT: 'eighty', PEERS: 'http://a:1' })).toThrowError(
      /^PORT: must be a port number \(got "eighty"\)$/,
    );
  });

  it('names a missing required variable and every bad one', () => {
    try {
      loadConfig(schema, { PORT: '70000' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).issues.map((i) => i.variable).sort();
      expect(variables).toEqual(['PEERS', 'PORT']);
      expect((error as ConfigError).message).toContain('it is not set');
    }
  });

  it('rejects a bad URL in a list', () => {
    expect(() => loadConfig(schema, { PEERS: 'http://a:1,nota url' })).toThrowError(
      /PEERS: "nota url" is not a URL/,
    );
  });
});
