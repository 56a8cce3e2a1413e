/*
 * nservicebus-pooling-bug.pml -- issue 14, part 2: the first specification.
 *
 * Promela for RabbitMQPoolingFix.tla (tmasternak/NServiceBus.ModelChecking;
 * seed 003): how the NServiceBus RabbitMQ transport tracked publisher
 * confirms on a pooled channel while the RabbitMQ .NET client recovered the
 * connection by itself. The pending tasks are cleared ONLY in the client's
 * shutdown and recovery callbacks, each one step after the client changed
 * the channel.
 *
 * Written anew from the TLA+, with its variables and step names:
 * channel.PendingTasks, channel.InPool, channel.Client.IsOpen,
 * channel.Client.NextSequenceNo, tcs, pc[1] (Transport: the publisher that
 * uses the pool) and pc[2] (RabbitClient: the client library's callbacks).
 * Each TLA+ action (P, Get_Channel, Create_Tcs, Store_Tcs, Send_Message,
 * Release_Channel; RC, Clear_On_Shutdown, Clear_On_Recovery) is one d_step
 * that ends by setting pc, so a spin step is a TLC step.
 *
 * Property: NoPooledChannelHasCorruptedState, asserted after every step
 * (CHECK); the same formula as an ltl property, checked on its own.
 *
 * RESULT (spin 6.5.2): a counterexample, as the name says (a model whose
 * name ends in -bug.pml must yield one: tests/models/check_models.py).
 * Breadth-first (-DBFS), the shortest: 16 steps after the initial state,
 * where the seed's TLC trace has 20; that 20-step trace is a run of this
 * model too (nservicebus-pooling-bug.seed-trace.txt, checked by the test).
 * Both trails are in docs/models.md.
 *
 * Bounds: one channel, one publisher, one client, as in the TLA+;
 * MaxSeqNo = 3 (a TLA+ constant whose value the repository does not give;
 * the seed's trace needs >= 1; -DMaxSeqNo=1 .. 6 give the same verdict).
 * PendingTasks is a bit set: bit t set <=> t is in the set.
 *
 * @trail PendingTasks=channel.PendingTasks:set InPool=channel.InPool:bool IsOpen=channel.Client.IsOpen:bool NextSequenceNo=channel.Client.NextSequenceNo tcs=tcs pc=pc[1],pc[2]
 * @step pc[{pid}]
 */

#ifndef MaxSeqNo
#define MaxSeqNo 3
#endif

mtype = { P, Get_Channel, Create_Tcs, Store_Tcs, Send_Message, Release_Channel,
          RC, Clear_On_Shutdown, Clear_On_Recovery };

typedef Client_t {
  bool IsOpen;
  byte NextSequenceNo
};
typedef Channel_t {
  byte PendingTasks;        /* a bit set over 0 .. MaxSeqNo+1 */
  bool InPool;
  Client_t Client
};

Channel_t channel;          /* IsOpen = FALSE, NextSequenceNo = 0, PendingTasks = {} */
byte tcs;                   /* the Transport's variable; global so that the property sees it */
mtype pc[3];                /* pc[1] Transport, pc[2] RabbitClient, as in the TLA+ */

/* \A t \in channel.PendingTasks : t <= channel.Client.NextSequenceNo */
#define AllPendingAtMostNext ((channel.PendingTasks >> (channel.Client.NextSequenceNo + 1)) == 0)
#define NoPooledChannelHasCorruptedState \
  (!(channel.Client.IsOpen && channel.InPool && pc[2] != Clear_On_Recovery) || AllPendingAtMostNext)
#ifdef LTL_RUN              /* the ltl runs (check_models.py): the ltl form alone */
#define CHECK skip
#else
#define CHECK assert(NoPooledChannelHasCorruptedState)
#endif

ltl NoPooledChannelHasCorruptedState_ltl { [] NoPooledChannelHasCorruptedState }

/* The client library: the connection goes down, comes back; the callbacks
 * clear the pending tasks one step later. */
proctype RabbitClient() {
  do
  :: d_step { channel.Client.IsOpen ->                                /* RC: shutdown */
       channel.Client.IsOpen = false;
       pc[2] = Clear_On_Shutdown; CHECK }
     d_step { channel.PendingTasks = 0; pc[2] = RC; CHECK }           /* Clear_On_Shutdown */
  :: d_step { !channel.Client.IsOpen ->                               /* RC: recovery */
       channel.Client.IsOpen = true; channel.Client.NextSequenceNo = 1;
       pc[2] = Clear_On_Recovery; CHECK }
     d_step { channel.PendingTasks = 0; pc[2] = RC; CHECK }           /* Clear_On_Recovery */
  od
}

/* The transport (MessageDispatcher, ConfirmsAwareChannel): take the channel
 * from the pool, register a task under its next sequence number, publish,
 * put the channel back. */
proctype Transport() {
  do
  :: d_step { pc[1] = Get_Channel; CHECK }                            /* P */
     d_step {                                                         /* Get_Channel */
       if
       :: !channel.Client.IsOpen ->                                   /* closed: a new one */
          channel.Client.IsOpen = true; channel.Client.NextSequenceNo = 1;
          channel.PendingTasks = 0; channel.InPool = false
       :: else -> channel.InPool = false
       fi;
       pc[1] = Create_Tcs; CHECK }
     d_step { tcs = channel.Client.NextSequenceNo; pc[1] = Store_Tcs; CHECK }           /* Create_Tcs */
     d_step { channel.PendingTasks = channel.PendingTasks | (1 << tcs);                 /* Store_Tcs */
              pc[1] = Send_Message; CHECK }
     if                                                               /* Send_Message: either ... */
     :: d_step { channel.Client.NextSequenceNo <= MaxSeqNo ->
          channel.Client.NextSequenceNo++; pc[1] = Release_Channel; CHECK }
     :: d_step { pc[1] = Release_Channel; CHECK }                     /* ... or skip */
     fi;
     d_step {                                                         /* Release_Channel */
       if
       :: !channel.Client.IsOpen ->                                   /* closed: disposed of */
          channel.Client.IsOpen = false; channel.Client.NextSequenceNo = 0;
          channel.PendingTasks = 0; channel.InPool = false
       :: else -> channel.InPool = true
       fi;
       pc[1] = P; CHECK }
  od
}

init {                      /* the initial predicate; then pids 1 and 2, as in the TLA+ */
  atomic { pc[1] = P; pc[2] = RC; CHECK; run Transport(); run RabbitClient() }
}
