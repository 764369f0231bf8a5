"""Russian and English function words and chat filler: words that name no topic.

The extractive backend skips them when it picks keyphrases and concepts, and the persona card drops a theme made
only of them, so both agree on what a concept can be. (Retrieval keeps a shorter list of its own in
memory/stemming.py: there "think"/"хочу" may be what a question is about.)
"""

CHAT_STOPWORDS = frozenset(
    # English function words and chat filler
    "the a an and or but if then so of to in on at by for with from as is are was were be been being it its this "
    "that these those there here what which who whom whose how why when where can could would should will shall may "
    "might must do does did have has had not no yes you your yours we our ours they their them he she his her him "
    "i me my mine us all any some each every more most other such than too very just also only own same into over "
    "under about after before again further once out up down off above below between both few nor both because "
    "while until during through please thanks thank like get got make want need know think let lets one two "
    # Russian function words and chat filler
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее её мне было вот от "
    "меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж "
    "вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто "
    "чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой "
    "тем чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот "
    "через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть "
    "том нельзя такой им более всегда конечно всю между это эта эти этих также очень просто спасибо пожалуйста "
    "нужно хочу как-то какие каких который которые которая которое которых".split()
)
