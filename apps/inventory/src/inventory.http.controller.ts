import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, ZodPipe, openApiSchema } from '@concord/platform';
import { type Page, InventoryService } from './inventory.service.js';
import {
  createProductBody,
  type CreateProductBody,
  listQuery,
  type ListQuery,
  receiptBody,
  type ReceiptBody,
  skuParams,
  type SkuParams,
} from './inventory.schemas.js';
import type { ProductView } from './stock.js';

/** Every route needs an internal token for "inventory"; reads take any scope, writes `admin`. */
@ApiTags('products')
@ApiBearerAuth()
@Controller('v1/products')
export class InventoryHttpController {
  constructor(private readonly inventory: InventoryService) {}

  @Post()
  @HttpCode(201)
  @AdminOnly()
  @ApiOperation({ summary: 'Create a product; its initial stock counts as received.' })
  @ApiBody({ schema: openApiSchema(createProductBody) })
  create(@Body(new ZodPipe(createProductBody)) body: CreateProductBody): Promise<ProductView> {
    return this.inventory.createProduct(body);
  }

  @Get()
  @ApiOperation({ summary: 'Products in sku order, a page at a time (cursor from nextCursor).' })
  list(@Query(new ZodPipe(listQuery)) query: ListQuery): Promise<Page<ProductView>> {
    return this.inventory.listProducts(query.cursor, query.limit);
  }

  @Get(':sku')
  @ApiOperation({ summary: 'A product with its counters (served from a short-lived per-instance cache).' })
  get(@Param(new ZodPipe(skuParams)) params: SkuParams): Promise<ProductView> {
    return this.inventory.getProduct(params.sku);
  }

  @Post(':sku/receipts')
  @HttpCode(201)
  @AdminOnly()
  @ApiOperation({ summary: 'Receive goods: adds qty to stock and received.' })
  @ApiBody({ schema: openApiSchema(receiptBody) })
  receive(
    @Param(new ZodPipe(skuParams)) params: SkuParams,
    @Body(new ZodPipe(receiptBody)) body: ReceiptBody,
  ): Promise<ProductView> {
    return this.inventory.receive(params.sku, body.qty);
  }
}
