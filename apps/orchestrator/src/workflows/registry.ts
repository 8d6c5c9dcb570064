import type { AnyWorkflow } from '@concord/saga';
import {
  PLACE_ORDER_TIMING_DEFAULT,
  placeOrderSaga,
  placeOrderTwoPhase,
  type PlaceOrderTiming,
} from './place-order.js';

/**
 * Every workflow this orchestrator runs, by (type, mode). Adding a workflow is adding it here: the engine in
 * libs/saga runs whatever it is given and knows none of them (docs/extending.md, "Add a saga").
 */
export function orchestratorWorkflows(timing: PlaceOrderTiming = PLACE_ORDER_TIMING_DEFAULT): AnyWorkflow[] {
  return [placeOrderSaga(timing), placeOrderTwoPhase(timing)];
}
