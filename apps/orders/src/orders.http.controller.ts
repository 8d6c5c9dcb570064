import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  assertCustomerAccess,
  CurrentPrincipal,
  openApiSchema,
  type Principal,
  ZodPipe,
} from '@concord/platform';
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

/** Every route needs an internal token for "orders"; a customer sees and places only their own orders. */
@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class OrdersHttpController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
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
    @CurrentPrincipal() principal: Principal,
  ): Promise<PlacedOrder> {
    assertCustomerAccess(principal, body.customerId);
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
  list(
    @Query(new ZodPipe(listOrdersQuery)) query: ListOrdersQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<Page<OrderView>> {
    assertCustomerAccess(principal, query.customerId);
    return this.orders.list(query.customerId, query.cursor, query.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One order.' })
  async get(
    @Param(new ZodPipe(orderParams)) params: OrderParams,
    @CurrentPrincipal() principal: Principal,
  ): Promise<OrderView> {
    const order = await this.orders.get(params.id);
    assertCustomerAccess(principal, order.customerId);
    return order;
  }
}
