/**
 * How long this process's event loop was held up while a test ran: the evidence a test needs before
 * it forgives a retransmission that the machine, not the code, caused.
 *
 * The TFTP tests run the server and the scripted client in one process. A retransmission timer
 * fires only after at least `minRtoMs` without an ACK; on a quiet machine a loopback ACK comes back
 * in well under a millisecond, so every resend beyond the ones the client's script forces is a bug.
 * On a loaded machine the process can be descheduled (or collect garbage) for longer than that: the
 * client cannot ACK meanwhile, and when the loop runs again its timers come first, so the server
 * resends what the client was about to ACK. Such a resend needs the loop held for about `minRtoMs`
 * (half of it counts, to be safe), and a stall of S ms fires the timer at most ceil(S / minRtoMs)
 * times (it backs off). The sum over the stalls bounds the timer expiries the machine can be blamed
 * for: zero when nothing stalled, which keeps the assertions exact on a quiet machine.
 */
export interface StallWatch {
  /** Stops watching: the most timer expiries the stalls seen could have caused, and the worst stall. */
  stop(): { expiries: number; worstMs: number };
}

export function watchStalls(minRtoMs: number): StallWatch {
  const tickMs = Math.max(1, Math.floor(minRtoMs / 8));
  let last = performance.now();
  let expiries = 0;
  let worstMs = 0;
  const look = (): void => {
    const now = performance.now();
    // The loop may have stopped up to a tick after the last look: count the whole gap.
    const held = now - last;
    last = now;
    if (held > worstMs) worstMs = held;
    if (held >= minRtoMs / 2) expiries += Math.ceil(held / minRtoMs);
  };
  const timer = setInterval(look, tickMs);
  return {
    stop() {
      look();
      clearInterval(timer);
      return { expiries, worstMs: Math.round(worstMs) };
    },
  };
}
