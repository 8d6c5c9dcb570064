import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  AdminOnly,
  assertCustomerAccess,
  CurrentPrincipal,
  openApiSchema,
  type Principal,
  ZodPipe,
} from '@concord/platform';
import type { AccountView } from './funds.js';
import type { LedgerRow } from './payments.repository.js';
import {
  customerParams,
  type CustomerParams,
  depositBody,
  type DepositBody,
  listQuery,
  type ListQuery,
  openAccountBody,
  type OpenAccountBody,
} from './payments.schemas.js';
import { type Page, PaymentsService } from './payments.service.js';

/** Every route needs an internal token for "payments": a customer opens and reads only their own account; deposits are `admin`. */
@ApiTags('accounts')
@ApiBearerAuth()
@Controller('v1/accounts')
export class PaymentsHttpController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: "Open a customer's account, empty." })
  @ApiBody({ schema: openApiSchema(openAccountBody) })
  open(
    @Body(new ZodPipe(openAccountBody)) body: OpenAccountBody,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AccountView> {
    assertCustomerAccess(principal, body.customerId);
    return this.payments.openAccount(body.customerId);
  }

  @Get(':customerId')
  @ApiOperation({ summary: 'An account with its counters (served from a short-lived per-instance cache).' })
  get(
    @Param(new ZodPipe(customerParams)) params: CustomerParams,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AccountView> {
    assertCustomerAccess(principal, params.customerId);
    return this.payments.getAccount(params.customerId);
  }

  @Post(':customerId/deposits')
  @HttpCode(201)
  @AdminOnly()
  @ApiOperation({ summary: 'Deposit money: adds to balance and deposited, with a ledger entry.' })
  @ApiBody({ schema: openApiSchema(depositBody) })
  deposit(
    @Param(new ZodPipe(customerParams)) params: CustomerParams,
    @Body(new ZodPipe(depositBody)) body: DepositBody,
  ): Promise<AccountView> {
    return this.payments.deposit(params.customerId, body.amountCents);
  }

  @Get(':customerId/ledger')
  @ApiOperation({ summary: "The account's ledger, oldest first, a page at a time (cursor from nextCursor)." })
  ledger(
    @Param(new ZodPipe(customerParams)) params: CustomerParams,
    @Query(new ZodPipe(listQuery)) query: ListQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<Page<LedgerRow>> {
    assertCustomerAccess(principal, params.customerId);
    return this.payments.listLedger(params.customerId, query.cursor, query.limit);
  }
}
