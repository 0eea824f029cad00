/**
 * Who the simulated app's accounts are: nicknames (`portrait_get`), group names (`get_group_info`)
 * and each group's members with their role and name card (`get_group_member_info`,
 * `get_specified_group_member_info`), plus the changes tests make (renames, promotions, deleted
 * accounts).
 *
 * Everything generated here comes from its own seeded streams, keyed by account or by group and
 * account, so the message generator's random calls (dataset.ts, messages.ts) are untouched and
 * existing datasets stay identical. A few generated names are hostile on purpose (bidi controls,
 * 5,000 characters, empty, control characters).
 */
import { ConfigError } from '../domain/errors.ts';
import type { GroupPlan } from './dataset.ts';
import { createPrng, hashString, intBetween, mix, pick } from './hash.ts';
import { isPoolAccountShape, poolAccount, senderPoolSize } from './messages.ts';

export type SimRole = 'Owner' | 'Admin' | 'Member';

/** A member of a group as the member APIs serve it. */
export interface SimMember {
  account: string;
  role: SimRole;
  nameCard: string;
  /** Epoch seconds. */
  joinTime: number;
}

/** Names no reader should trust: each must round-trip exactly and render safely. */
export const HOSTILE_NAMES: readonly string[] = [
  // Right-to-left override: "evil" renders reversed and drags what follows with it.
  '\u202Eevil\u202C admin\u2066',
  'long'.repeat(1250),
  '',
  'ctl\u0000\u0007\u001b[31mred\u0008\r\nname\u007f',
  '<script>alert(1)</script> "q" \\ \u200b\ufeff',
];

const GIVEN = [
  'Alice',
  'Bob',
  'Carol',
  'Dave',
  'Erin',
  'Frank',
  'Grace',
  'Heidi',
  '小明',
  '王芳',
  'Zoë',
  'José',
];
const FAMILY = ['Li', 'Wang', 'Zhang', 'Chen', 'Müller', 'Smith', 'Nguyễn', 'Kowalski', '', '🚀'];
const SALT_NICK = 0x1d3e;
const SALT_MEMBER = 0xca2d;
const DAY = 86_400;

/** The account every generated group is owned by (`Owner_Account`, dataset.ts `assemble`). */
function ownerShape(account: string): boolean {
  return /^owner[0-9]{1,3}$/.test(account);
}

/** A name from `random`: one call in 12 is hostile. */
function generatedName(random: () => number): string {
  if (random() < 1 / 12) return pick(random, HOSTILE_NAMES);
  return `${pick(random, GIVEN)} ${pick(random, FAMILY)}`.trim();
}

/** Identity state over a dataset; generated on demand, only changes are kept. */
export class SimIdentities {
  readonly #seed: number;
  readonly #admins: ReadonlySet<string>;
  readonly #nicks = new Map<string, string>();
  readonly #deleted = new Set<string>();
  readonly #groupNames = new Map<string, string>();
  /** `groupId \n account` → a changed name card or role. */
  readonly #cards = new Map<string, string>();
  readonly #roles = new Map<string, SimRole>();

  public constructor(seed: number, adminAccounts: readonly string[]) {
    this.#seed = seed;
    this.#admins = new Set(adminAccounts);
  }

  /** Whether `portrait_get` knows the account: a generated or imported account not deleted. */
  public isKnown(account: string): boolean {
    if (this.#deleted.has(account)) return false;
    return (
      this.#nicks.has(account) ||
      this.#admins.has(account) ||
      ownerShape(account) ||
      isPoolAccountShape(account)
    );
  }

  /** The account's nickname, or undefined when the account is unknown. */
  public nick(account: string): string | undefined {
    if (!this.isKnown(account)) return undefined;
    const changed = this.#nicks.get(account);
    if (changed !== undefined) return changed;
    if (this.#admins.has(account)) return 'Administrator';
    return generatedName(createPrng(mix(this.#seed, SALT_NICK, hashString(account))));
  }

  /** The avatar URL (`Tag_Profile_IM_Image`) of a known account. */
  public image(account: string): string {
    return `https://sim-avatars.example/${hashString(account).toString(16)}.png`;
  }

  /** Sets a nickname; an account never seen is imported. @throws ConfigError for a deleted account. */
  public renameUser(account: string, nick: string): void {
    if (this.#deleted.has(account))
      throw new ConfigError(`Account ${account} is deleted`, { field: 'account' });
    this.#nicks.set(account, nick);
  }

  /** Deletes an account: `portrait_get` answers it unknown and it leaves every group. */
  public deleteAccount(account: string): void {
    if (!this.isKnown(account)) throw new ConfigError(`Unknown account ${account}`, { field: 'account' });
    this.#deleted.add(account);
  }

  /** The group's current name. */
  public groupName(plan: GroupPlan): string {
    return this.#groupNames.get(plan.groupId) ?? plan.name;
  }

  public renameGroup(plan: GroupPlan, name: string): void {
    this.#groupNames.set(plan.groupId, name);
  }

  /**
   * The group's members: its owner first, then its sender pool in member order (messages.ts
   * `poolAccount`), without deleted accounts.
   */
  public members(plan: GroupPlan): SimMember[] {
    const groupHash = hashString(plan.groupId);
    const accounts = [plan.ownerAccount];
    for (let member = 0; member < senderPoolSize(groupHash); member++) {
      const account = poolAccount(groupHash, member);
      if (!accounts.includes(account)) accounts.push(account);
    }
    return accounts
      .filter((account) => !this.#deleted.has(account))
      .map((account) => this.#member(plan, account, account === plan.ownerAccount));
  }

  /** Sets a member's name card. @throws ConfigError when the account is not a member. */
  public setNameCard(plan: GroupPlan, account: string, nameCard: string): void {
    this.#requireMember(plan, account);
    this.#cards.set(`${plan.groupId}\n${account}`, nameCard);
  }

  /** Promotes to Admin or demotes to Member. @throws ConfigError for the owner or a non-member. */
  public setRole(plan: GroupPlan, account: string, role: 'Admin' | 'Member'): void {
    this.#requireMember(plan, account);
    if (account === plan.ownerAccount)
      throw new ConfigError(`${account} owns ${plan.groupId}`, { field: 'account' });
    this.#roles.set(`${plan.groupId}\n${account}`, role);
  }

  #requireMember(plan: GroupPlan, account: string): void {
    if (!this.members(plan).some((m) => m.account === account))
      throw new ConfigError(`${account} is not a member of ${plan.groupId}`, { field: 'account' });
  }

  #member(plan: GroupPlan, account: string, owner: boolean): SimMember {
    const key = `${plan.groupId}\n${account}`;
    const random = createPrng(mix(this.#seed, SALT_MEMBER, hashString(plan.groupId), hashString(account)));
    const roll = random();
    // Most members set no name card; some set one, a few a hostile one.
    const card = roll < 0.6 ? '' : generatedName(random);
    const generatedRole: SimRole = owner ? 'Owner' : random() < 0.15 ? 'Admin' : 'Member';
    return {
      account,
      role: owner ? 'Owner' : (this.#roles.get(key) ?? generatedRole),
      nameCard: this.#cards.get(key) ?? card,
      joinTime: plan.createTimeSec + (owner ? 0 : intBetween(random, 60, 30 * DAY)),
    };
  }
}
