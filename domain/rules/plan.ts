// The step plan: which partner org gets which request for a case, and the keys deconfliction matches on.
import type { CaseInput, Merchant, NoticeType, PartnerTaskType, Slas, StepName, TaskType } from '../types';

export const DEFAULT_SLAS: Slas = { verification: '48h', signoff: '72h', termination: '10d', freeze: '96h', removal: '24h' };

export interface PartnerRequest {
  step: Extract<StepName, 'termination' | 'freeze' | 'hosting'>;
  org: string;
  taskType: PartnerTaskType;
  noticeType: Extract<NoticeType, 'termination_request' | 'freeze_request' | 'hosting_notice'>;
  /** What the request covers: channel ids for termination and freeze, URLs for hosting. */
  scope: Record<string, unknown>;
}

/** One termination per payment channel (scheme or wallet provider), one freeze per distinct acquirer/wallet provider, one hosting notice per provider. */
export function partnerRequests(input: Pick<CaseInput, 'merchant' | 'plan'>): PartnerRequest[] {
  const { merchant, plan } = input;
  const out: PartnerRequest[] = [];
  for (const ch of merchant.paymentChannels) {
    out.push(
      ch.kind === 'card'
        ? { step: 'termination', org: ch.scheme, taskType: 'confirm_termination', noticeType: 'termination_request', scope: { channel: ch } }
        : { step: 'termination', org: ch.provider, taskType: 'confirm_termination', noticeType: 'termination_request', scope: { channel: ch } },
    );
  }
  if (plan.freezeAssets) {
    const byOrg = new Map<string, Record<string, unknown>[]>();
    for (const ch of merchant.paymentChannels) {
      const org = ch.kind === 'card' ? ch.acquirer : ch.provider;
      const list = byOrg.get(org) ?? [];
      list.push(ch.kind === 'card' ? { kind: 'card', scheme: ch.scheme, merchantId: ch.merchantId } : { kind: 'wallet', accountId: ch.accountId });
      byOrg.set(org, list);
    }
    for (const [org, accounts] of byOrg) {
      out.push({ step: 'freeze', org, taskType: 'confirm_freeze', noticeType: 'freeze_request', scope: { accounts } });
    }
  }
  // Each provider's URLs once, in order (a Set keeps insertion order; a case may name thousands of URLs).
  const hostUrls = new Map<string, Set<string>>();
  for (const h of merchant.hosting) {
    const urls = hostUrls.get(h.provider) ?? new Set<string>();
    for (const u of h.urls) urls.add(u);
    hostUrls.set(h.provider, urls);
  }
  for (const [org, urls] of hostUrls) {
    out.push({ step: 'hosting', org, taskType: 'confirm_removal', noticeType: 'hosting_notice', scope: { urls: [...urls] } });
  }
  return out;
}

export interface ConflictKeys {
  merchantIds: string[];
  walletIds: string[];
  hosts: string[];
}

/**
 * The host a URL is contacted at, as WHATWG URL parsing (fetch, the URL checks, browsers) reads it: lower-cased, an
 * international name in its ASCII (punycode) form, escapes and full-width dots resolved, `\` read as `/`; without a
 * trailing dot. So one host is one deconfliction key however a URL writes it (`bücher.example` and
 * `xn--bcher-kva.example`, `shop%2Eexample.test` and `shop.example.test`), and text after a backslash never passes for
 * the host. Null when it does not parse or names no host. `URL` is deterministic, and the workflow sandbox provides it.
 */
export function urlHost(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return null;
  }
  const host = parsed.hostname.replace(/\.$/, '');
  return host === '' ? null : host;
}

export function conflictKeys(merchant: Merchant): ConflictKeys {
  const merchantIds = new Set<string>();
  const walletIds = new Set<string>();
  const hosts = new Set<string>();
  for (const ch of merchant.paymentChannels) {
    if (ch.kind === 'card') merchantIds.add(ch.merchantId);
    else walletIds.add(ch.accountId);
  }
  const urls = [...merchant.urls, ...merchant.hosting.flatMap((h) => h.urls)];
  for (const u of urls) {
    const host = urlHost(u);
    if (host) hosts.add(host);
  }
  return { merchantIds: [...merchantIds], walletIds: [...walletIds], hosts: [...hosts] };
}

export const SLA_OF_TASK: Record<TaskType, keyof Slas | null> = {
  deconfliction_review: 'verification',
  verify_evidence: 'verification',
  le_signoff: 'signoff',
  confirm_termination: 'termination',
  confirm_freeze: 'freeze',
  confirm_removal: 'removal',
  resolve_exception: 'verification',
};
