import { RpcErrorsFilter } from '@concord/platform';
import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type ReplyOf, type RequestOf, SUBJECTS } from '@concord/contracts';
import { OrdersService } from './orders.service.js';
import { settlePayload } from './orders.schemas.js';

/** The orchestrator's verdicts. Settling is idempotent by itself (a settled order keeps its first verdict). */
@UseFilters(RpcErrorsFilter)
@Controller()
export class OrdersNatsController {
  constructor(private readonly orders: OrdersService) {}

  @MessagePattern(SUBJECTS.ordersSettle)
  async settle(@Payload() env: RequestOf<'orders.settle'>): Promise<ReplyOf<'orders.settle'>> {
    const parsed = settlePayload.safeParse(env.payload);
    if (!parsed.success) return { ok: false, reason: `malformed command: ${parsed.error.message}` };
    return this.orders.settle(parsed.data);
  }
}
