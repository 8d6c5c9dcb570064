import { Body, Controller, Get, Headers, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiTokenGuard, ZodPipe, openApiSchema } from '@concord/platform';
import type { FastifyReply } from 'fastify';
import type { OrderView, PlacedOrder } from './order-view.js';
import {
  listOrdersQuery,
  type ListOrdersQuery,
  orderParams,
  type OrderParams,
  placeOrderBody,
  type PlaceOrderBody,
  placeOrderHeaders,
  placeOrderQuery,
  type PlaceOrderQuery,
} from './orders.schemas.js';
import { OrdersService, type Page } from './orders.service.js';

const headersPipe = new ZodPipe(placeOrderHeaders);

@ApiTags('orders')
@Controller('v1/orders')
export class OrdersHttpController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @UseGuards(ApiTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Place an order: 202 {orderId, transactionId} while PENDING; with ?wait=true, 200 once settled.',
  })
  @ApiBody({ schema: openApiSchema(placeOrderBody) })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A repeated POST answers the first order.',
  })
  async place(
    @Body(new ZodPipe(placeOrderBody)) body: PlaceOrderBody,
    @Query(new ZodPipe(placeOrderQuery)) query: PlaceOrderQuery,
    @Headers() rawHeaders: Record<string, unknown>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PlacedOrder> {
    // Nest's @Headers() takes no pipe; the same validation runs here.
    const idempotencyKey = headersPipe.transform(rawHeaders)['idempotency-key'];
    const placed = await this.orders.place(body, {
      wait: query.wait,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    void reply.status(placed.status === 'PENDING' ? 202 : 200);
    return placed;
  }

  @Get()
  @ApiOperation({ summary: "A customer's orders, newest first, a page at a time (cursor from nextCursor)." })
  list(@Query(new ZodPipe(listOrdersQuery)) query: ListOrdersQuery): Promise<Page<OrderView>> {
    return this.orders.list(query.customerId, query.cursor, query.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One order.' })
  get(@Param(new ZodPipe(orderParams)) params: OrderParams): Promise<OrderView> {
    return this.orders.get(params.id);
  }
}
