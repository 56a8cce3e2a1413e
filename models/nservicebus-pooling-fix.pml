/*
 * nservicebus-pooling-fix.pml -- issue 14, part 2: the second specification.
 *
 * Promela for RabbitMQPoolingFixv2.tla (tmasternak/NServiceBus.ModelChecking,
 * seed 003): the first specification (nservicebus-pooling-bug.pml) plus
 * clean-up in the transport itself. The recovery callback now also sets
 * channel.Recovered; the transport clears the pending tasks when it takes
 * the channel from the pool (Clean_The_Channel_On_Get) and again before it
 * puts the channel back (Clean_The_Channel_On_Receive, then
 * Receive_After_Clean), whenever channel.Recovered is set.
 *
 * RESULT (spin 6.5.2, exhaustive): no counterexample.
 * NoPooledChannelHasCorruptedState holds in every reachable state: the
 * assertion after every step never fails (safety run), and the ltl form of
 * the invariant, checked on its own (-DLTL_RUN leaves the assertions out),
 * has no counterexample either (pan -a -f). So the file keeps its -fix.pml
 * name: tests/models/check_models.py requires a model not named -bug.pml
 * to verify. The seed shows a failing trace for the first specification
 * only and says nothing of the second; its name, "v2" of the "Fix", is the
 * author's only word that it is the fix. For this invariant, at these
 * bounds, spin agrees.
 *
 * What the result does NOT say: the invariant looks at numbers only (a
 * pending task above NextSequenceNo), not at which publish a number belongs
 * to; and the model drops the cleared tasks, whose senders, in the code,
 * would wait for a confirm that never comes unless something completes
 * them. Warren's own model, warren-client-confirms.pml, checks both. See
 * docs/models.md.
 *
 * Bounds: one channel, one publisher, one client, as in the TLA+;
 * MaxSeqNo = 3 (a TLA+ constant whose value the repository does not give;
 * the seed's trace needs >= 1; -DMaxSeqNo=1 .. 6 give the same verdict).
 * PendingTasks is a bit set: bit t set <=> t is in the set.
 *
 * @trail PendingTasks=channel.PendingTasks:set InPool=channel.InPool:bool Recovered=channel.Recovered:bool IsOpen=channel.Client.IsOpen:bool NextSequenceNo=channel.Client.NextSequenceNo tcs=tcs pc=pc[1],pc[2]
 * @step pc[{pid}]
 */

#ifndef MaxSeqNo
#define MaxSeqNo 3
#endif

mtype = { P, Get_Channel, Clean_The_Channel_On_Get, Create_Tcs, Store_Tcs, Send_Message,
          Release_Channel, Clean_The_Channel_On_Receive, Receive_After_Clean,
          RC, Clear_On_Shutdown, Clear_On_Recovery };

typedef Client_t {
  bool IsOpen;
  byte NextSequenceNo
};
typedef Channel_t {
  byte PendingTasks;        /* bit set over 0 .. MaxSeqNo+1 */
  bool InPool;
  bool Recovered;
  Client_t Client
};

Channel_t channel;
byte tcs;
mtype pc[3];                /* pc[1] Transport, pc[2] RabbitClient */

#define AllPendingAtMostNext ((channel.PendingTasks >> (channel.Client.NextSequenceNo + 1)) == 0)
#define NoPooledChannelHasCorruptedState \
  (!(channel.Client.IsOpen && channel.InPool && pc[2] != Clear_On_Recovery) || AllPendingAtMostNext)
#ifdef LTL_RUN              /* the ltl runs (check_models.py): the ltl form alone */
#define CHECK skip
#else
#define CHECK assert(NoPooledChannelHasCorruptedState)
#endif

ltl NoPooledChannelHasCorruptedState_ltl { [] NoPooledChannelHasCorruptedState }

proctype RabbitClient() {
  do
  :: d_step { channel.Client.IsOpen ->                                /* RC: shutdown */
       channel.Client.IsOpen = false;
       pc[2] = Clear_On_Shutdown; CHECK }
     d_step { channel.PendingTasks = 0; pc[2] = RC; CHECK }           /* Clear_On_Shutdown */
  :: d_step { !channel.Client.IsOpen ->                               /* RC: recovery */
       channel.Client.IsOpen = true; channel.Client.NextSequenceNo = 1;
       pc[2] = Clear_On_Recovery; CHECK }
     d_step { channel.PendingTasks = 0; channel.Recovered = true;     /* Clear_On_Recovery */
       pc[2] = RC; CHECK }
  od
}

proctype Transport() {
  do
  :: d_step { pc[1] = Get_Channel; CHECK }                            /* P */
     d_step {                                                         /* Get_Channel */
       if
       :: !channel.Client.IsOpen ->
          channel.Client.IsOpen = true; channel.Client.NextSequenceNo = 1;
          channel.PendingTasks = 0; channel.InPool = false
       :: else -> channel.InPool = false
       fi;
       pc[1] = Clean_The_Channel_On_Get; CHECK }
     d_step {                                                         /* Clean_The_Channel_On_Get */
       if
       :: channel.Recovered -> channel.PendingTasks = 0; channel.Recovered = false
       :: else -> skip
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
     if                                                               /* Release_Channel */
     :: d_step { !channel.Client.IsOpen ->
          channel.Client.IsOpen = false; channel.Client.NextSequenceNo = 0;
          channel.PendingTasks = 0; channel.InPool = false;
          pc[1] = P; CHECK }
     :: d_step { channel.Client.IsOpen -> pc[1] = Clean_The_Channel_On_Receive; CHECK }
        d_step {                                                      /* Clean_The_Channel_On_Receive */
          if
          :: channel.Recovered -> channel.PendingTasks = 0; channel.Recovered = false
          :: else -> skip
          fi;
          pc[1] = Receive_After_Clean; CHECK }
        d_step { channel.InPool = true; pc[1] = P; CHECK }            /* Receive_After_Clean */
     fi
  od
}

init {                                      /* the initial predicate; pids 1 and 2 as in the TLA+ */
  atomic { pc[1] = P; pc[2] = RC; CHECK; run Transport(); run RabbitClient() }
}
