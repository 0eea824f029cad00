/**
 * The test helper that starts the simulator with the client's rates (test/helpers/tencent.ts): the
 * client's API keys map to the simulator's command names, rate for rate, and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { ENGINE_CLIENT_RATES } from '../helpers/engine.ts';
import { simulatorRatesFor } from '../helpers/tencent.ts';

describe('simulatorRatesFor', () => {
  it('maps every client rate to the same rate under the simulator command name', () => {
    expect(simulatorRatesFor(ENGINE_CLIENT_RATES)).toEqual({
      group_msg_get_simple: ENGINE_CLIENT_RATES.groupMsgGetSimple,
      get_group_info: ENGINE_CLIENT_RATES.getGroupInfo,
      get_appid_group_list: ENGINE_CLIENT_RATES.getAppidGroupList,
      get_topic: ENGINE_CLIENT_RATES.getTopic,
    });
    expect(simulatorRatesFor({ getCosSig: 7, getTopic: undefined })).toEqual({ get_cos_sig: 7 });
    expect(simulatorRatesFor({})).toEqual({});
  });
});
