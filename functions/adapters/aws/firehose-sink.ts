/**
 * The AWS callback receiver's durable path (docs/callbacks.md, "Why Firehose"): each authentic
 * row is one Firehose record (its NDJSON line). `PutRecord` answers only once Firehose has stored
 * the record durably, so the receiver acks after it; Firehose then writes the records in batches,
 * gzipped, under `callbacks/sdkappid=<id>/dt=<date>/` of the archive (dynamic partitioning on
 * `sdk_app_id`, dates in the stack's time zone). Firehose may deliver a record twice (its own
 * retries): rows are deduplicated by `event_key` and `body_sha256` downstream, like Tencent's own
 * duplicates.
 */
import { FirehoseClient, PutRecordCommand } from '@aws-sdk/client-firehose';
import type { CallbackEventRow } from '../../domain/callback-event.ts';
import type { CallbackSink } from '../../engine/callback-receiver.ts';

export class FirehoseSink implements CallbackSink {
  constructor(
    private readonly client: FirehoseClient,
    private readonly streamName: string,
  ) {}

  /** @throws the SDK's error when Firehose did not accept the record (the request is answered 500) */
  async record(row: CallbackEventRow): Promise<void> {
    await this.client.send(
      new PutRecordCommand({
        DeliveryStreamName: this.streamName,
        Record: { Data: new TextEncoder().encode(`${JSON.stringify(row)}\n`) },
      }),
    );
  }
}

/** A client with the SDK's standard retries (3 attempts), well within Tencent's 2 s wait. */
export function firehoseSink(streamName: string, client = new FirehoseClient({})): FirehoseSink {
  return new FirehoseSink(client, streamName);
}
