import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';

/** Where new order ids come from, behind a class so that tests can make them predictable. */
@Injectable()
export class OrderIds {
  next(): string {
    return randomUUID();
  }
}
