/**
 * What a run learns about identities without asking (issue 24): the API as the run uses it, with
 * the senders of every history page it fetched (the accounts seen in archived messages, per group),
 * the infos planning read (a group's name and owner come with the `get_group_info` call planning
 * makes anyway), and the count of the run's other calls (the identity budget's base). Pure pass-through
 * otherwise: every call goes to the same client, paced with everything else.
 */
import type { ChatApi } from '../domain/ports.ts';
import type {
  CosSigRequest,
  CosSigResult,
  GroupInfo,
  GroupListPage,
  GroupMemberPage,
  GroupMemberPageRequest,
  GroupMembersResult,
  HistoryPage,
  HistoryRequest,
  TopicInfo,
  UserProfile,
} from '../domain/tencent-types.ts';

/** Group infos kept from planning, at most (a million-group app lists them all: the rest are asked again). */
export const MAX_TAPPED_INFOS = 20_000;

/**
 * Groups whose senders the tap holds before the groups no paging is under way for are handed to
 * the lookups (the rescan reads groups one after another: a group 1,000 groups back is done).
 */
export const MAX_HELD_GROUPS = 1_000;

export class IdentityTap implements ChatApi {
  /**
   * Group id → the accounts that sent the messages fetched from it, first seen first, until they
   * are taken (identity-prefetch.ts takes a group's when its paging ends): the groups still paging
   * and those paged otherwise (the rescan) are held, not every group of the run.
   */
  public readonly senders = new Map<string, Set<string>>();
  /** Group id → the info planning read (only infos with a name, or a dissolved group's). */
  public readonly infos = new Map<string, GroupInfo>();
  /** Calls made through the tap (the run's calls other than the capture's own). */
  public calls = 0;
  /**
   * Told when the tap starts holding a group's senders while it holds {@link MAX_HELD_GROUPS} or
   * more (identity-prefetch.ts then takes the groups no paging is under way for: the rescan's).
   */
  public onCrowded: (() => void) | undefined;

  public constructor(
    /** The API itself: the capture's own calls go here, not counted as the run's other calls. */
    public readonly inner: ChatApi,
    private readonly maxInfos = MAX_TAPPED_INFOS,
  ) {}

  /** The senders seen in `groupId` so far, forgotten here (later pages of the group start afresh). */
  public take(groupId: string): Set<string> | undefined {
    const accounts = this.senders.get(groupId);
    this.senders.delete(groupId);
    return accounts;
  }

  public serverNowMs(): number {
    return this.inner.serverNowMs();
  }

  public serverOffsetMs(): number | undefined {
    return this.inner.serverOffsetMs();
  }

  public async *listGroups(options?: Parameters<ChatApi['listGroups']>[0]): AsyncIterable<GroupListPage> {
    for await (const page of this.inner.listGroups(options)) {
      this.calls++;
      yield page;
    }
  }

  public async getGroupInfo(groupIds: readonly string[], signal?: AbortSignal): Promise<GroupInfo[]> {
    this.calls++;
    const infos = await this.inner.getGroupInfo(groupIds, signal);
    for (const info of infos) {
      const useful = info.ok ? info.name !== undefined : info.errorCode === 10010 || info.errorCode === 10015;
      if (useful && (this.infos.size < this.maxInfos || this.infos.has(info.groupId)))
        this.infos.set(info.groupId, info);
    }
    return infos;
  }

  public async getHistory(request: HistoryRequest, signal?: AbortSignal): Promise<HistoryPage> {
    this.calls++;
    const page = await this.inner.getHistory(request, signal);
    for (const message of page.messages) {
      const from = message.From_Account;
      if (typeof from !== 'string' || from === '') continue;
      let accounts = this.senders.get(request.groupId);
      if (accounts === undefined) {
        accounts = new Set();
        this.senders.set(request.groupId, accounts);
        if (this.senders.size > MAX_HELD_GROUPS) this.onCrowded?.();
      }
      accounts.add(from);
    }
    return page;
  }

  public getTopics(groupId: string, signal?: AbortSignal): Promise<TopicInfo[]> {
    this.calls++;
    return this.inner.getTopics(groupId, signal);
  }

  public getCosSig(urls: readonly CosSigRequest[], signal?: AbortSignal): Promise<CosSigResult[]> {
    this.calls++;
    return this.inner.getCosSig(urls, signal);
  }

  public getProfiles(accounts: readonly string[], signal?: AbortSignal): Promise<UserProfile[]> {
    this.calls++;
    return this.inner.getProfiles(accounts, signal);
  }

  public getGroupMembers(
    groupId: string,
    accounts: readonly string[],
    signal?: AbortSignal,
  ): Promise<GroupMembersResult> {
    this.calls++;
    return this.inner.getGroupMembers(groupId, accounts, signal);
  }

  public getGroupMemberPage(request: GroupMemberPageRequest, signal?: AbortSignal): Promise<GroupMemberPage> {
    this.calls++;
    return this.inner.getGroupMemberPage(request, signal);
  }
}
