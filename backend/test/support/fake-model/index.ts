export { endsWithToolResult, lastToolResultText, lastUserText, scenarios, toolRounds } from './scenarios.js';
export {
  type FakeBlock,
  type FakeModelServer,
  type FakeScript,
  type FakeTurn,
  type RecordedRequest,
  startFakeModelServer,
} from './server.js';
