import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { Coordinator } from '@concord/coordination';
import { ZodPipe } from '@concord/platform';
import type { z } from 'zod';
import { ClientAuthGuard } from './client-auth.guard.js';
import { CLUSTER_ADMIN, type ClusterAdmin } from './cluster-admin.js';
import { CoordinatorErrorsFilter } from './coordinator-errors.filter.js';
import { addMemberBody, name, registerBody } from './schemas.js';

@Controller('v1')
@UseGuards(ClientAuthGuard)
@UseFilters(CoordinatorErrorsFilter)
export class RegistryHttpController {
  constructor(
    private readonly coordinator: Coordinator,
    @Inject(CLUSTER_ADMIN) private readonly cluster: ClusterAdmin,
  ) {}

  @Get('services/:service')
  async list(@Param('service', new ZodPipe(name)) service: string) {
    return this.coordinator.services(service, true);
  }

  /** Convenience over `PUT /v1/kv/services/{service}/{instanceId}`, with the value validated. */
  @Put('services/:service/:instance')
  async register(
    @Param('service', new ZodPipe(name)) service: string,
    @Param('instance', new ZodPipe(name)) instance: string,
    @Body(new ZodPipe(registerBody)) body: z.infer<typeof registerBody>,
  ) {
    const { lease, ...value } = body;
    return this.coordinator.put(`services/${service}/${instance}`, JSON.stringify(value), lease);
  }

  @Delete('services/:service/:instance')
  async deregister(
    @Param('service', new ZodPipe(name)) service: string,
    @Param('instance', new ZodPipe(name)) instance: string,
  ) {
    return this.coordinator.delete(`services/${service}/${instance}`);
  }

  @Get('cluster')
  view() {
    return this.cluster.view();
  }

  @Post('cluster/members')
  @HttpCode(202)
  async addMember(@Body(new ZodPipe(addMemberBody)) body: z.infer<typeof addMemberBody>) {
    await this.cluster.addLearner(body.id, body.peerAddress, body.apiUrl);
    return { added: body.id, role: 'learner' };
  }

  @Post('cluster/members/:id/promote')
  @HttpCode(200)
  async promote(@Param('id', new ZodPipe(name)) id: string) {
    await this.cluster.promote(id);
    return { promoted: id };
  }

  @Delete('cluster/members/:id')
  async remove(@Param('id', new ZodPipe(name)) id: string) {
    await this.cluster.remove(id);
    return { removed: id };
  }
}
