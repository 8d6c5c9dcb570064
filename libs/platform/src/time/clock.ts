import { Injectable } from '@nestjs/common';

/** Wall-clock time behind an injectable class, so that tests decide what "now" is. */
@Injectable()
export class Clock {
  nowMs(): number {
    return Date.now();
  }
}

/** A clock that moves only when told to. */
export class ManualClock extends Clock {
  constructor(private currentMs = 1_767_225_600_000) {
    super();
  }
  override nowMs(): number {
    return this.currentMs;
  }
  advance(ms: number): void {
    this.currentMs += ms;
  }
}
