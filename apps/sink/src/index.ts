export { LOCAL_MAILBOXES, startSink, type Sink, type SinkOptions } from './sink.ts';
