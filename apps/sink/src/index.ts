export { startSink, type Sink, type SinkOptions } from './sink.ts';
