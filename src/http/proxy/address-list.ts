/**
 * Lists of trusted peer addresses (--forwarded-allow-ips, --proxy-allow-from): addresses and CIDR
 * networks, IPv4 and IPv6, or "*" for any. Compiled once at startup into a node:net BlockList,
 * which also matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against IPv4 rules and the reverse, as a
 * dual-stack socket reports IPv4 peers in that form.
 */
import { BlockList, isIP } from 'node:net';

/** What `--forwarded-allow-ips` and `--proxy-allow-from` accept, for errors and docs. */
export const ADDRESS_LIST_EXPECTED = 'a comma-separated list of IP addresses or CIDR networks (10.0.0.0/8, fd00::/8), or *';

/** One list item → [address, prefix, family], or null when it is neither an address nor a network. */
export function parseAddressRule(item: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  let text = item.trim();
  let prefixText: string | undefined;
  const slash = text.indexOf('/');
  if (slash >= 0) {
    prefixText = text.slice(slash + 1);
    text = text.slice(0, slash);
  }
  // [::1] as written in URLs and bind addresses.
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const version = isIP(text);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > max) return null;
  }
  return { address: text, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const SEEN_MAX = 4096;

export class AddressList {
  private readonly any: boolean;
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** Throws a TypeError naming the first item that is not an address, a network or "*". */
  constructor(items: readonly string[]) {
    let any = false;
    let count = 0;
    for (const item of items) {
      if (item.trim() === '*') {
        any = true;
        continue;
      }
      const rule = parseAddressRule(item);
      if (!rule) throw new TypeError(`not an IP address or network: "${item}"`);
      this.list.addSubnet(rule.address, rule.prefix, rule.family);
      count++;
    }
    this.any = any;
    this.empty = count === 0;
  }

  /**
   * Answers already given, by address: a BlockList check builds a native SocketAddress each
   * time (a C++ object, a global handle, work for the GC), and this runs for every request, while
   * the peers are few and come back on every keep-alive request.
   */
  private readonly seen = new Map<string, boolean>();

  /** Whether an IP address is on the list (a UNIX-socket peer has none: see origin.ts). */
  has(address: string): boolean {
    if (this.any) return true;
    if (this.empty) return false;
    let answer = this.seen.get(address);
    if (answer === undefined) {
      answer = this.check(address);
      // Bounded: a flood of distinct peers only costs the checks again.
      if (this.seen.size >= SEEN_MAX) this.seen.clear();
      this.seen.set(address, answer);
    }
    return answer;
  }

  private check(address: string): boolean {
    // A link-local peer may carry its zone: fe80::1%eth0.
    const percent = address.indexOf('%');
    const bare = percent >= 0 ? address.slice(0, percent) : address;
    const version = isIP(bare);
    if (version === 0) return false;
    return this.list.check(bare, version === 4 ? 'ipv4' : 'ipv6');
  }
}
