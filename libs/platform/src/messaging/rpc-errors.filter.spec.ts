import type { ArgumentsHost } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RpcErrorsFilter } from './rpc-errors.filter.js';

describe('RpcErrorsFilter', () => {
  it('answers a thrown error as an error reply (retried by the caller), never as a business refusal', async () => {
    const host = {
      switchToRpc: () => ({ getContext: () => ({ getSubject: () => 'orders.settle' }) }),
    } as unknown as ArgumentsHost;
    const reply = firstValueFrom(new RpcErrorsFilter().catch(new Error('lock timeout'), host));
    await expect(reply).rejects.toEqual({ status: 'error', message: 'lock timeout' });
  });
});
