/**
 * DHCP leases as the appliance keeps them: the DHCP server's lease book persists them, the trigger
 * and the hand-off find a node's address by them.
 */

export type LeaseState = 'offered' | 'bound' | 'declined' | 'released' | 'expired';

/** A DHCP lease as persisted. Times are epoch milliseconds. */
export interface LeaseRecord {
  ip: string;
  /** Canonical lower-case colon MAC. */
  mac: string;
  /** Option 61 as lower-case hex, when the client sent one. */
  clientId: string | null;
  hostname: string | null;
  /** The subnet (CIDR) the lease belongs to. */
  subnet: string;
  state: LeaseState;
  expiresAt: number;
  updatedAt: number;
}
