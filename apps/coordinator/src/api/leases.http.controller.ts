import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { Coordinator } from '@concord/coordination';
import { ZodPipe } from '@concord/platform';
import type { z } from 'zod';
import { ClientAuthGuard } from './client-auth.guard.js';
import { CoordinatorErrorsFilter } from './coordinator-errors.filter.js';
import { campaignBody, leaseGrantBody, leaseIdParam, lockBody, name, resignBody } from './schemas.js';

@Controller('v1')
@UseGuards(ClientAuthGuard)
@UseFilters(CoordinatorErrorsFilter)
export class LeasesHttpController {
  constructor(private readonly coordinator: Coordinator) {}

  @Post('leases')
  async grant(@Body(new ZodPipe(leaseGrantBody)) body: z.infer<typeof leaseGrantBody>) {
    return this.coordinator.grantLease(body.ttlSeconds);
  }

  @Post('leases/:id/keepalive')
  @HttpCode(200)
  keepAlive(@Param('id', new ZodPipe(leaseIdParam)) id: string) {
    return this.coordinator.keepAlive(id);
  }

  @Get('leases/:id')
  async info(@Param('id', new ZodPipe(leaseIdParam)) id: string) {
    return this.coordinator.leaseInfo(id);
  }

  @Delete('leases/:id')
  async revoke(@Param('id', new ZodPipe(leaseIdParam)) id: string) {
    return this.coordinator.revokeLease(id);
  }

  @Post('locks/:name')
  @HttpCode(200)
  async lock(
    @Param('name', new ZodPipe(name)) lockName: string,
    @Body(new ZodPipe(lockBody)) body: z.infer<typeof lockBody>,
  ) {
    return this.coordinator.lock(lockName, body.lease, body.waitMs, body.holder);
  }

  @Delete('locks/:name/*')
  async unlock(@Param('name', new ZodPipe(name)) lockName: string, @Param('*') key: string) {
    return this.coordinator.unlock(lockName, key);
  }

  @Post('elections/:name/campaign')
  @HttpCode(200)
  async campaign(
    @Param('name', new ZodPipe(name)) electionName: string,
    @Body(new ZodPipe(campaignBody)) body: z.infer<typeof campaignBody>,
  ) {
    return this.coordinator.campaign(electionName, body.lease, body.value, body.waitMs);
  }

  @Get('elections/:name')
  async leader(@Param('name', new ZodPipe(name)) electionName: string) {
    return this.coordinator.electionLeader(electionName, true);
  }

  @Post('elections/:name/resign')
  @HttpCode(200)
  async resign(
    @Param('name', new ZodPipe(name)) electionName: string,
    @Body(new ZodPipe(resignBody)) body: z.infer<typeof resignBody>,
  ) {
    return this.coordinator.resign(electionName, body.key);
  }
}
