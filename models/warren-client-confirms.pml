/*
 * warren-client-confirms.pml -- issue 14, part 2: Warren's C++ client
 * (src/client/) tracking publisher confirms on pooled channels while it
 * recovers the connection by itself. The counterpart of the NServiceBus
 * models (nservicebus-pooling-*.pml), with stronger properties.
 *
 * The design point: a pending confirm belongs to the connection's epoch.
 * Recovery completes every pending confirm as Unknown in the same atomic
 * step (under the connection's lock) that bumps the epoch and resets every
 * channel's next_seq; input from a socket is processed only while that
 * socket's epoch is the connection's. So the pool needs no clean-up in
 * get() or return().
 *
 * BOUNDS (the defaults; e.g. spin -DNPUB=3 -DNPUBS=1 -a changes them):
 *   NPUB   = 2 publishers, NPUBS = 2 publishes each (4 futures);
 *            publishers with an even pid await each future before they
 *            return the channel, odd ones never do (they return the channel
 *            with the confirm still pending, and the next user publishes on
 *            top of it); -DAWAIT_CHOICE lets every publish choose;
 *   MAXREC = 2 connection losses (3 epochs), each at any point and each
 *            followed by a recovery; or fewer: the network may stop losing;
 *   NPUB channel slots (a publisher holds at most one channel and the pool
 *   opens one only when it has none), up to NPUB*NPUBS sequence numbers
 *   per channel and epoch.
 * tests/models/check_models.py checks the defaults and a second
 * configuration, the @config line below: NPUB = 3 publishers x NPUBS = 1
 * publish, MAXREC = 1 loss (with 2 losses it verifies too, in ~4x the time;
 * docs/models.md).
 *
 * The broker answers any received, unanswered publish of the current socket,
 * in any order, single or multiple (multiple when there are unanswered
 * publishes below the tag for it to cover). It nacks even tags and acks odd
 * ones, so acks and nacks come in any order; the client handles both the
 * same way but for the result, so letting the broker pick each kind freely
 * (-DFREE_KIND) gives the client no other behaviour, only ~4x the states.
 *
 * The broker takes a frame in the step that writes it to a live socket; a
 * frame written to a dead socket is lost. (When the broker receives a frame
 * is visible to the client only through the answer, which comes any time
 * later, so a delay there adds states, not behaviours.) Answers travel on a
 * wire, b2c, tagged with their socket's epoch, and are read any time later:
 * after a recovery, frames of old sockets can still be there.
 *
 * PROPERTIES
 *  (a) every publish's future completes exactly once: asserted at each
 *      completion that it is the first, and at quiescence (timeout: nothing
 *      can move any more) that all NPUB*NPUBS futures are completed;
 *  (b) an ack/nack completes only the publishes it belongs to: an answer
 *      carries its socket's epoch, the channel, the tag and (a ghost) the
 *      set of futures the broker received under the seqs it answers; the
 *      client must complete exactly that set, each future registered under
 *      that epoch;
 *  (c) the seed's NoPooledChannelHasCorruptedState in Warren's variables,
 *      after every step: no pending confirm of an open, pooled channel has
 *      seq >= next_seq; and the stronger: every pending confirm has
 *      seq < next_seq, belongs to the current epoch, on an open channel;
 *  (d) ltl every_publish_completes: <> (all futures completed), checked
 *      with pan -a -f (weak fairness).
 * RESULT (spin 6.5.2): no errors, exhaustive, at both configurations;
 * numbers in docs/models.md.
 *
 * @config -DNPUB=3 -DNPUBS=1 -DMAXREC=1
 * @trail epoch=epoch conn_up=conn_up:bool sock_alive=sock_alive:bool losses=losses done=done:set open=channel[0].open,channel[1].open,channel[2].open:bool next_seq=channel[0].next_seq,channel[1].next_seq,channel[2].next_seq unanswered=broker[0].unanswered,broker[1].unanswered,broker[2].unanswered:set
 */

#ifndef NPUB
#define NPUB 2
#endif
#ifndef NPUBS
#define NPUBS 2
#endif
#ifndef MAXREC
#define MAXREC 2
#endif
#define NCH    NPUB                 /* channel slots */
#define NFUT   (NPUB * NPUBS)       /* futures 1 .. NFUT */
#define MAXSEQ NFUT                 /* seqs 1 .. MAXSEQ per channel and epoch */
#define ALL    ((2 << NFUT) - 2)    /* bits 1 .. NFUT */
#if NPUB > 3
#error "the pool, the broker and the recovery below are written out for at most 3 channels"
#endif
#if NFUT > 7
#error "bit sets are bytes: at most 7 futures and sequence numbers"
#endif

mtype = { Ack, Nack };

/* ---- the client ------------------------------------------------------------- */
typedef Pending {
  byte epoch;
  byte fut                          /* 0: no pending confirm under this seq */
};
typedef Channel {
  bool alloc;                       /* exists: in the pool or held by a publisher */
  bool inpool;
  bool open;                        /* open on the current socket, confirm.select done */
  byte next_seq;
  Pending pending[MAXSEQ + 1]       /* index: seq (0 unused) */
};
Channel channel[NCH];
byte epoch = 1;                     /* the connection's incarnation */
bool conn_up = true;                /* a socket of `epoch` has done its handshake */
byte done;                          /* bit f: future f is completed (not sent, acked, nacked or unknown) */

/* ---- the broker's side of the current socket, the answers, the network ------- */
typedef BrokerChannel {
  byte unanswered;                  /* bit s: publish seq s received, not answered */
  byte fut[MAXSEQ + 1]              /* ghost: the future received under seq s */
};
BrokerChannel broker[NCH];
byte b_ep = 1;                      /* the epoch of the socket the broker serves */
bool sock_alive = true;
byte losses;
chan b2c = [NFUT] of { byte, byte, byte, bool, mtype, byte };
                                    /* epoch, channel, tag, multiple, Ack|Nack, ghost: futures answered */

hidden byte ci, si, fu, fs;         /* scratch, used within one d_step */

#define COMPLETED(f) ((done >> (f)) & 1)
#define COMPLETE(f)  assert(!COMPLETED(f)); done = done | (1 << (f))   /* (a): at most once */

/* (c), after every step that changes the client */
inline check_invariants() {
  for (ci : 0 .. NCH - 1) {
    for (si : 1 .. MAXSEQ) {
      if
      :: channel[ci].pending[si].fut != 0 ->
         /* the seed's invariant, in Warren's variables */
         assert(!(channel[ci].open && channel[ci].inpool) || si < channel[ci].next_seq);
         /* the stronger one */
         assert(channel[ci].pending[si].epoch == epoch && si < channel[ci].next_seq && channel[ci].open)
      :: else
      fi
    }
  };
  skip                              /* (a d_step must not end in a loop) */
}

ltl every_publish_completes { <> (done == ALL) }      /* (d) */

/* ---- publishers: Pool::get, Channel::publish, maybe await, Pool::return --------- */
#define TAKE(C) :: d_step { channel[C].inpool -> channel[C].inpool = false; c = C; check_invariants() }
#if NCH == 1
#define POOL_EMPTY (!channel[0].inpool)
#elif NCH == 2
#define POOL_EMPTY (!channel[0].inpool && !channel[1].inpool)
#else
#define POOL_EMPTY (!channel[0].inpool && !channel[1].inpool && !channel[2].inpool)
#endif

active [NPUB] proctype Publisher() {  /* pids 0 .. NPUB-1 */
  byte k, c, f, s;
  do
  :: k < NPUBS ->
     if                                             /* Pool::get: any pooled channel ... */
     TAKE(0)
#if NCH >= 2
     TAKE(1)
#endif
#if NCH >= 3
     TAKE(2)
#endif
     :: d_step { POOL_EMPTY ->                      /* ... or a new one */
          c = 0;
          do
          :: c < NCH && channel[c].alloc -> c++
          :: else -> break
          od;
          assert(c < NCH);
          channel[c].alloc = true; channel[c].open = conn_up; channel[c].next_seq = 1;
          check_invariants() }
     fi;
     d_step {                                       /* Channel::publish: one step, under the lock */
       f = _pid * NPUBS + k + 1; k++;
       if
       :: !channel[c].open -> COMPLETE(f)           /* fails: nothing sent, nothing registered */
       :: else ->
          s = channel[c].next_seq; channel[c].next_seq++;
          assert(s <= MAXSEQ && channel[c].pending[s].fut == 0);
          channel[c].pending[s].epoch = epoch; channel[c].pending[s].fut = f;
          if                                        /* the frames, to the current socket */
          :: sock_alive ->
             assert(b_ep == epoch && !((broker[c].unanswered >> s) & 1));
             broker[c].unanswered = broker[c].unanswered | (1 << s); broker[c].fut[s] = f
          :: else                                   /* dead: lost */
          fi;
          s = 0
       fi;
       check_invariants() }
#ifdef AWAIT_CHOICE
     if
     :: skip
     :: COMPLETED(f)
     fi;
#else
     (_pid % 2 == 1 || COMPLETED(f));               /* even pids await the future */
#endif
     d_step {                                       /* Pool::return */
       if
       :: channel[c].open -> channel[c].inpool = true
       :: else ->                                   /* discard: nothing can be pending */
          for (si : 1 .. MAXSEQ) { assert(channel[c].pending[si].fut == 0) };
          channel[c].alloc = false; channel[c].next_seq = 0
       fi;
       c = 0; f = 0;
       check_invariants() }
  :: else -> break
  od
}

/* ---- the broker ------------------------------------------------------------------ */
/* answer tag S on channel C: basic.ack or basic.nack K, multiple M (every unanswered <= S) */
inline answer(C, S, M, K) {
  fs = 0;
  for (si : 1 .. S) {
    if
    :: (si == S || M) && ((broker[C].unanswered >> si) & 1) ->
       fs = fs | (1 << broker[C].fut[si]);
       broker[C].unanswered = broker[C].unanswered & ~(1 << si); broker[C].fut[si] = 0
    :: else
    fi
  };
  b2c!b_ep, C, S, M, K, fs;
  fs = 0
}
#define ANSWER(C, S, M, K) \
  :: d_step { sock_alive && S <= MAXSEQ && ((broker[C].unanswered >> S) & 1) && \
              (!M || (broker[C].unanswered & ((1 << S) - 2)) != 0) -> answer(C, S, M, K) }
#ifdef FREE_KIND
#define ANSWER_SEQ(C, S) ANSWER(C, S, false, Ack) ANSWER(C, S, false, Nack) \
                         ANSWER(C, S, true, Ack) ANSWER(C, S, true, Nack)
#else
#define KIND(S) (S % 2 == 1 -> Ack : Nack)
#define ANSWER_SEQ(C, S) ANSWER(C, S, false, KIND(S)) ANSWER(C, S, true, KIND(S))
#endif
#define ANSWER_CH(C) ANSWER_SEQ(C, 1) ANSWER_SEQ(C, 2) ANSWER_SEQ(C, 3) ANSWER_SEQ(C, 4) \
                     ANSWER_SEQ(C, 5) ANSWER_SEQ(C, 6) ANSWER_SEQ(C, 7)

active proctype Broker() {
end:
  do
  ANSWER_CH(0)
#if NCH >= 2
  ANSWER_CH(1)
#endif
#if NCH >= 3
  ANSWER_CH(2)
#endif
  od
}

active proctype Network() {
  do
  :: d_step { sock_alive && losses < MAXREC -> sock_alive = false; losses++ }  /* the socket dies */
  :: break                                                                      /* no more losses */
  od
}

/* ---- the client's input: basic.ack / basic.nack ------------------------------------- */
active proctype Reader() {
  byte e, c, t, fset;
  bool m;
  mtype kind;
end:
  do
  :: d_step { b2c?e, c, t, m, kind, fset;
       if
       :: e == epoch ->                              /* from the current socket */
          assert(channel[c].open && channel[c].pending[t].fut != 0);
          fs = 0;
          for (si : 1 .. t) {
            fu = channel[c].pending[si].fut;
            if
            :: fu != 0 && (si == t || m) ->          /* completed as Acked or Nacked (kind) */
               assert(channel[c].pending[si].epoch == e);
               COMPLETE(fu); fs = fs | (1 << fu);
               channel[c].pending[si].fut = 0; channel[c].pending[si].epoch = 0
            :: else
            fi
          };
          assert(fs == fset);                        /* (b): exactly the broker's futures */
          fu = 0; fs = 0
       :: else                                       /* an old socket's: dropped */
       fi;
       e = 0; c = 0; t = 0; m = false; kind = 0; fset = 0;
       check_invariants() }
  od
}

/* ---- the client's recovery ---------------------------------------------------------- */
#define REOPEN(C) \
  :: d_step { conn_up && channel[C].alloc && !channel[C].open ->   /* channel.open, confirm.select */ \
       channel[C].open = true; channel[C].next_seq = 1; check_invariants() }

active proctype Connection() {
end:
  do
  :: d_step { conn_up && !sock_alive ->              /* step 1: one step, under the lock */
       epoch++; conn_up = false;
       for (ci : 0 .. NCH - 1) {
         for (si : 1 .. MAXSEQ) {
           fu = channel[ci].pending[si].fut;
           if
           :: fu != 0 ->                             /* completed as Unknown */
              COMPLETE(fu); channel[ci].pending[si].fut = 0; channel[ci].pending[si].epoch = 0
           :: else
           fi
         };
         channel[ci].next_seq = (channel[ci].alloc -> 1 : 0);
         channel[ci].open = false
       };
       fu = 0;
       check_invariants() }
  :: d_step { !conn_up ->                            /* reconnect: a new socket, handshake */
       conn_up = true; sock_alive = true; b_ep = epoch;
       for (ci : 0 .. NCH - 1) {
         broker[ci].unanswered = 0;
         for (si : 1 .. MAXSEQ) { broker[ci].fut[si] = 0 }
       };
       check_invariants() }
  REOPEN(0)                                          /* then the channels, one by one */
#if NCH >= 2
  REOPEN(1)
#endif
#if NCH >= 3
  REOPEN(2)
#endif
  od
}

/* (a) at quiescence: when nothing else can move, every future is completed.
 * (Left out of the ltl runs, which check (d) instead: one process less for
 * weak fairness to track.) */
#ifndef LTL_RUN
active proctype Quiescence() {
  timeout -> assert(done == ALL)
}
#endif
