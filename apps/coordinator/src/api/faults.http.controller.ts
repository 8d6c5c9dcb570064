import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  Inject,
  Put,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { ZodPipe } from '@concord/platform';
import { z } from 'zod';
import { ClientAuthGuard } from './client-auth.guard.js';
import { CoordinatorErrorsFilter } from './coordinator-errors.filter.js';
import { name } from './schemas.js';

/** The Raft transport's fault switch (tests and demos): peers whose traffic to and from this node is dropped. */
export interface PeerFaults {
  setBlockedPeers(ids: readonly string[]): void;
  blockedPeers(): string[];
}

export const PEER_FAULTS = Symbol('PEER_FAULTS');

const partitionBody = z.object({ peers: z.array(name).max(64) }).strict();

const loopback = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * `PUT /admin/faults/partition {"peers":["n2","n3"]}` cuts this node off from those peers (both ways);
 * `{"peers":[]}` heals. Mounted only with FAULT_INJECTION=true (off by default), answers only requests
 * from loopback, and needs the bearer token like every other privileged route.
 */
@Controller('admin/faults')
@UseGuards(ClientAuthGuard)
@UseFilters(CoordinatorErrorsFilter)
export class FaultsHttpController {
  constructor(@Inject(PEER_FAULTS) private readonly faults: PeerFaults) {}

  @Get('partition')
  partition(@Req() request: { socket: { remoteAddress?: string } }) {
    requireLoopback(request);
    return { peers: this.faults.blockedPeers() };
  }

  @Put('partition')
  setPartition(
    @Req() request: { socket: { remoteAddress?: string } },
    @Body(new ZodPipe(partitionBody)) body: z.infer<typeof partitionBody>,
  ) {
    requireLoopback(request);
    this.faults.setBlockedPeers(body.peers);
    return { peers: this.faults.blockedPeers() };
  }
}

function requireLoopback(request: { socket: { remoteAddress?: string } }): void {
  if (!loopback.has(request.socket.remoteAddress ?? '')) {
    throw new ForbiddenException('fault injection is only accepted from loopback');
  }
}
