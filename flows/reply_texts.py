"""The bot's built-in texts in every language it answers in without a store's own tables: en, es, pt, hi, id.

Data only. What is here:

- `BUILT_IN`: language -> reply name -> segment key (`default`, or a segment such as `sale_shopper`)
  -> candidate texts. As in `flows.replies`, the first candidate whose placeholders all have a value
  is used (so "Track it here: {tracking_url}" is never sent without a link); every language has the
  same replies, segment keys, number of candidates and placeholders as English. `language` confirms
  a switch of language, written in the new language; `language_unavailable` is said in the
  customer's current language and names the store's languages through `{languages}`.
- `ORDER_STATUS`: the phrases of `segments.orders.order_status()` per language, each written to
  complete that language's `order_status` sentence ("Your last order #1001 (...) is {order_status}.").
- `LABELS`: interface words: button and list-button titles (at most 20 characters), list section
  titles (at most 24), row descriptions (at most 72 once `{count}` is filled), the word joining
  the last item of a list, and `no_name`, what stands in for a missing `{first_name}`.
- `ENDONYMS`: each language's name in itself, for the rows of a language list.

English is the texts the bot has always sent, moved verbatim. The other languages were written, not
machine-translated, and reviewed line by line for how a native speaker writes to a shop's customer on
WhatsApp: warm, short, natural.

- es: neutral Latin-American Spanish, "tú"; gender-neutral where the customer is addressed
  ("te damos la bienvenida", not "bienvenido").
- pt: Brazilian Portuguese, "você"; no article before the store's name (its gender is unknown).
- hi: Devanagari, conversational, "आप" form, with the English commerce words Indians use written in
  Devanagari (ऑर्डर, कार्ट, ऑफ़र, चेकआउट); the bot never speaks of itself with a gendered verb.
- id: friendly shop tone, "Kak"/"Kakak" for the customer and "kami" for the shop, standard spelling.

Commands stay commands: opt-out and opt-in confirmations name the English START/STOP and, in es and
pt, a word `flows.lexicon` already routes there (ALTA/BAJA, ATIVAR/SAIR); "type HUMAN" keeps HUMAN in
every language (recognised everywhere), with AGENTE/ATENDENTE beside it in the es/pt fallback.
Button labels quoted in a text (the reorder button) are the labels in `LABELS`.
"""
from __future__ import annotations

from bot.core import languages

LANGUAGES = ("en", "es", "pt", "hi", "id")

BUILT_IN: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "greet": {"default": ("Hi {first_name}! Welcome to {store_name}. How can we help today?",)},
        "thanks": {"default": ("You're welcome, {first_name}! Anything else we can do for you?",)},
        "stop": {"default": ("You're unsubscribed: {store_name} won't send you offers or reminders any more. "
                             "Reply START at any time to opt back in.",)},
        "start": {"default": ("Welcome back, {first_name}! You'll hear from {store_name} again. "
                              "Reply STOP at any time to opt out.",)},
        "human": {"default": ("Thanks, {first_name}. I've asked a member of our team to take over; "
                              "they'll answer here shortly.",)},
        "fallback": {"default": ("Sorry, I didn't quite get that. You can ask about your order status, reorder, "
                                 "get a recommendation, or type HUMAN to talk to our team.",)},
        "media": {"default": ("Thanks! I can only read text messages for now. Could you type your question?",)},
        "order_status": {"default": (
            "Your last order {last_order_name} ({last_order_items}) is {order_status}. Track it here: {tracking_url}",
            "Your last order {last_order_name} ({last_order_items}) is {order_status}.",
        )},
        "no_orders": {"default": ("I couldn't find an order for this number yet, {first_name}. If you ordered with "
                                  "another phone number, type HUMAN and our team will look it up.",)},
        "reorder": {"default": ("Your last order {last_order_name}: {last_order_items}. "
                                "Tap Reorder to get it again.",)},
        "reorder_link": {"default": ("Here's your cart with the same items, ready to check out: {cart_url}",)},
        "reorder_unavailable": {"default": ("Sorry {first_name}, I can't rebuild that order as a cart. Type HUMAN "
                                            "and our team will help you reorder.",)},
        "recommend": {"default": ("Customers who bought what you have also loved {product_title}.",)},
        "recommend_popular": {"default": ("Our customers' favourites right now include {product_title}.",)},
        "recommend_cart": {"default": ("Here's {product_title} in your cart, ready to check out: {cart_url}",)},
        "no_recommendations": {"default": ("I don't have a suggestion for you yet, {first_name}. Type HUMAN and our "
                                           "team will gladly help.",)},
        "sale": {
            "default": ("We'll tell you here first when our next sale starts, {first_name}.",),
            "sale_shopper": ("Early access for you, {first_name}: use {discount_code} at checkout before our sale "
                             "opens to everyone.",),
        },
        "preferences": {"default": ("What are you into, {first_name}? Pick one and we'll send you the things "
                                    "you care about.",)},
        "preferences_saved": {"default": ("Got it, thanks {first_name}! We'll keep that in mind.",)},
        "preferences_unavailable": {"default": ("Thanks {first_name}! There's nothing to choose from just yet.",)},
        "handoff_timeout": {"default": ("Sorry for the wait, {first_name}: our team couldn't get to you just now. "
                                        "I'm back to help, or type HUMAN to ask for a person again.",)},
        "assistant_unavailable": {"default": ("Sorry {first_name}, our assistant is briefly unavailable. I've passed "
                                              "your message to our team and they'll answer here.",)},
        "language": {"default": ("Done, {first_name}! I'll write to you in English from now on.",)},
        "language_unavailable": {"default": ("Sorry, we can only chat in {languages} for now.",)},
        "cod_confirmed": {"default": ("Thank you, {first_name}! Your order {last_order_name} is confirmed: "
                                      "we'll ship it soon and you pay on delivery.",)},
        "cod_cancelled": {"default": ("Done: your order {last_order_name} is cancelled and won't be shipped. "
                                      "Write to us here if you change your mind.",)},
        "cod_unknown": {"default": ("I couldn't find an order waiting for your confirmation, {first_name}. "
                                    "Type HUMAN and our team will check.",)},
        "cart_link": {"default": (
            "I couldn't find {missing_items} in our shop. The rest of your cart is ready to check out: {cart_url}",
            "Here's your cart, ready to check out: {cart_url}",
        )},
        "cart_unknown": {"default": (
            "Sorry {first_name}, I couldn't find {missing_items} in our shop. Type HUMAN and our team will help you "
            "order.",
            "Sorry {first_name}, I couldn't read the items in your cart. Type HUMAN and our team will help you order.",
        )},
        "cart_unavailable": {"default": ("Thanks for your cart, {first_name}! I can't turn it into a checkout link "
                                         "here; type HUMAN and our team will take your order.",)},
    },
    "es": {
        "greet": {"default": ("¡Hola, {first_name}! Te damos la bienvenida a {store_name}. "
                              "¿En qué te podemos ayudar hoy?",)},
        "thanks": {"default": ("¡De nada, {first_name}! ¿Te ayudamos con algo más?",)},
        "stop": {"default": ("Listo, cancelaste tu suscripción: {store_name} ya no te enviará ofertas ni "
                             "recordatorios. Escribe ALTA o START cuando quieras volver a recibirlos.",)},
        "start": {"default": ("¡Qué gusto tenerte de vuelta, {first_name}! {store_name} volverá a escribirte. "
                              "Escribe BAJA o STOP cuando quieras dejar de recibir mensajes.",)},
        "human": {"default": ("Gracias, {first_name}. Ya le pedí a alguien de nuestro equipo que siga la "
                              "conversación; te responderá por aquí en breve.",)},
        "fallback": {"default": ("Perdona, no te entendí bien. Puedes consultar el estado de tu pedido, repetir una "
                                 "compra, pedir una recomendación o escribir HUMAN (o AGENTE) para hablar con "
                                 "nuestro equipo.",)},
        "media": {"default": ("¡Gracias! Por ahora solo puedo leer mensajes de texto. ¿Me escribes tu pregunta?",)},
        "order_status": {"default": (
            "Tu último pedido {last_order_name} ({last_order_items}) {order_status}. Síguelo aquí: {tracking_url}",
            "Tu último pedido {last_order_name} ({last_order_items}) {order_status}.",
        )},
        "no_orders": {"default": ("Todavía no encuentro ningún pedido con este número, {first_name}. Si compraste "
                                  "con otro número de teléfono, escribe HUMAN y nuestro equipo lo buscará.",)},
        "reorder": {"default": ("Tu último pedido {last_order_name}: {last_order_items}. "
                                "Toca \"Pedir de nuevo\" para repetir tu compra.",)},
        "reorder_link": {"default": ("Aquí tienes tu carrito con los mismos productos, listo para pagar: "
                                     "{cart_url}",)},
        "reorder_unavailable": {"default": ("Lo siento, {first_name}, no pude armar un carrito con ese pedido. "
                                            "Escribe HUMAN y nuestro equipo te ayudará a repetirlo.",)},
        "recommend": {"default": ("Los clientes que compraron lo mismo que tú también eligieron "
                                  "{product_title}.",)},
        "recommend_popular": {"default": ("Los favoritos de nuestros clientes en este momento: "
                                          "{product_title}.",)},
        "recommend_cart": {"default": ("Te dejé {product_title} en el carrito. Solo falta pagar: {cart_url}",)},
        "no_recommendations": {"default": ("Todavía no tengo una sugerencia para ti, {first_name}. Escribe HUMAN "
                                           "y nuestro equipo te ayudará con gusto.",)},
        "sale": {
            "default": ("Te avisamos por aquí antes que a nadie cuando empiecen nuestras próximas ofertas, "
                        "{first_name}.",),
            "sale_shopper": ("Acceso anticipado para ti, {first_name}: usa {discount_code} al pagar antes de que "
                             "abramos la oferta para todos.",),
        },
        "preferences": {"default": ("¿Qué te interesa, {first_name}? Elige una opción y te enviaremos lo que "
                                    "más te gusta.",)},
        "preferences_saved": {"default": ("¡Anotado, gracias, {first_name}! Lo tendremos en cuenta.",)},
        "preferences_unavailable": {"default": ("¡Gracias, {first_name}! Por ahora no hay opciones para "
                                                "elegir.",)},
        "handoff_timeout": {"default": ("Perdona la espera, {first_name}: nuestro equipo no pudo atenderte en este "
                                        "momento. Sigo aquí para ayudarte; si prefieres hablar con una persona, "
                                        "vuelve a escribir HUMAN.",)},
        "assistant_unavailable": {"default": ("Lo siento, {first_name}, nuestro asistente no está disponible por un "
                                              "momento. Ya le pasé tu mensaje a nuestro equipo y te responderán "
                                              "por aquí.",)},
        "language": {"default": ("¡Listo, {first_name}! De ahora en adelante te escribo en español.",)},
        "language_unavailable": {"default": ("Lo siento, por ahora solo podemos conversar en {languages}.",)},
        "cod_confirmed": {"default": ("¡Gracias, {first_name}! Tu pedido {last_order_name} está confirmado: "
                                      "lo enviamos pronto y pagas al recibirlo.",)},
        "cod_cancelled": {"default": ("Listo: cancelamos tu pedido {last_order_name} y no se enviará. "
                                      "Escríbenos por aquí si cambias de opinión.",)},
        "cod_unknown": {"default": ("No encontré ningún pedido pendiente de confirmar, {first_name}. "
                                    "Escribe HUMAN y nuestro equipo lo revisará.",)},
        "cart_link": {"default": (
            "No encontré en nuestra tienda: {missing_items}. El resto de tu carrito está listo para pagar: "
            "{cart_url}",
            "Aquí está tu carrito, listo para pagar: {cart_url}",
        )},
        "cart_unknown": {"default": (
            "Perdona, {first_name}, no encontré en nuestra tienda: {missing_items}. Escribe HUMAN y nuestro equipo "
            "te ayudará con tu pedido.",
            "Perdona, {first_name}, no pude leer los productos de tu carrito. Escribe HUMAN y nuestro equipo te "
            "ayudará con tu pedido.",
        )},
        "cart_unavailable": {"default": ("¡Gracias por tu carrito, {first_name}! Desde aquí no puedo generar el "
                                         "enlace de pago; escribe HUMAN y nuestro equipo tomará tu pedido.",)},
    },
    "pt": {
        "greet": {"default": ("Oi, {first_name}! Boas-vindas a {store_name}. Como podemos ajudar hoje?",)},
        "thanks": {"default": ("Por nada, {first_name}! Posso ajudar em mais alguma coisa?",)},
        "stop": {"default": ("Pronto, você cancelou a inscrição: {store_name} não vai mais enviar ofertas nem "
                             "lembretes para você. Responda ATIVAR ou START quando quiser voltar a receber.",)},
        "start": {"default": ("Que bom ter você de volta, {first_name}! {store_name} vai voltar a falar com você. "
                              "Responda SAIR ou STOP quando quiser parar de receber.",)},
        "human": {"default": ("Obrigado, {first_name}. Já pedi para alguém da nossa equipe continuar o "
                              "atendimento; a pessoa vai responder por aqui em instantes.",)},
        "fallback": {"default": ("Desculpe, não entendi muito bem. Você pode perguntar sobre o status do seu pedido, "
                                 "pedir de novo, receber uma recomendação ou digitar HUMAN (ou ATENDENTE) para "
                                 "falar com a nossa equipe.",)},
        "media": {"default": ("Obrigado! Por enquanto só consigo ler mensagens de texto. Pode digitar sua "
                              "pergunta?",)},
        "order_status": {"default": (
            "Seu último pedido {last_order_name} ({last_order_items}) {order_status}. Acompanhe aqui: {tracking_url}",
            "Seu último pedido {last_order_name} ({last_order_items}) {order_status}.",
        )},
        "no_orders": {"default": ("Ainda não encontrei nenhum pedido com este número, {first_name}. Se você "
                                  "comprou com outro número de telefone, digite HUMAN e nossa equipe procura "
                                  "para você.",)},
        "reorder": {"default": ("Seu último pedido {last_order_name}: {last_order_items}. "
                                "Toque em \"Pedir de novo\" para repetir a compra.",)},
        "reorder_link": {"default": ("Aqui está seu carrinho com os mesmos itens, pronto para finalizar a compra: "
                                     "{cart_url}",)},
        "reorder_unavailable": {"default": ("Desculpe, {first_name}, não consegui montar um carrinho com esse "
                                            "pedido. Digite HUMAN e nossa equipe ajuda você a pedir de novo.",)},
        "recommend": {"default": ("Quem comprou o mesmo que você também adorou {product_title}.",)},
        "recommend_popular": {"default": ("Os queridinhos dos nossos clientes no momento: {product_title}.",)},
        "recommend_cart": {"default": ("Coloquei {product_title} no seu carrinho. É só finalizar a compra: "
                                       "{cart_url}",)},
        "no_recommendations": {"default": ("Ainda não tenho uma sugestão para você, {first_name}. Digite HUMAN e "
                                           "nossa equipe vai adorar ajudar.",)},
        "sale": {
            "default": ("Você fica sabendo aqui antes de todo mundo quando começar nossa próxima promoção, "
                        "{first_name}.",),
            "sale_shopper": ("Acesso antecipado para você, {first_name}: use {discount_code} ao finalizar a compra "
                             "antes de a promoção abrir para todo mundo.",),
        },
        "preferences": {"default": ("O que você curte, {first_name}? Escolha uma opção e a gente manda só o que "
                                    "combina com você.",)},
        "preferences_saved": {"default": ("Anotado, obrigado, {first_name}! Vamos levar isso em conta.",)},
        "preferences_unavailable": {"default": ("Obrigado, {first_name}! Ainda não há opções para escolher.",)},
        "handoff_timeout": {"default": ("Desculpe a demora, {first_name}: nossa equipe não conseguiu atender você "
                                        "agora. Continuo aqui para ajudar; se preferir falar com uma pessoa, "
                                        "digite HUMAN de novo.",)},
        "assistant_unavailable": {"default": ("Desculpe, {first_name}, nosso assistente está indisponível por "
                                              "alguns instantes. Já passei sua mensagem para a nossa equipe, que "
                                              "vai responder por aqui.",)},
        "language": {"default": ("Pronto, {first_name}! A partir de agora vou falar com você em português.",)},
        "language_unavailable": {"default": ("Desculpe, por enquanto só conseguimos conversar em {languages}.",)},
        "cod_confirmed": {"default": ("Obrigado, {first_name}! Seu pedido {last_order_name} está confirmado: "
                                      "enviamos em breve e você paga na entrega.",)},
        "cod_cancelled": {"default": ("Pronto: seu pedido {last_order_name} foi cancelado e não será "
                                      "enviado. Fale com a gente aqui se mudar de ideia.",)},
        "cod_unknown": {"default": ("Não encontrei nenhum pedido aguardando sua confirmação, {first_name}. "
                                    "Digite HUMAN e nossa equipe vai verificar.",)},
        "cart_link": {"default": (
            "Não encontrei na nossa loja: {missing_items}. O resto do seu carrinho está pronto para finalizar a "
            "compra: {cart_url}",
            "Aqui está o seu carrinho, pronto para finalizar a compra: {cart_url}",
        )},
        "cart_unknown": {"default": (
            "Desculpe, {first_name}, não encontrei na nossa loja: {missing_items}. Digite HUMAN e nossa equipe "
            "ajuda você com o pedido.",
            "Desculpe, {first_name}, não consegui ler os itens do seu carrinho. Digite HUMAN e nossa equipe ajuda "
            "você com o pedido.",
        )},
        "cart_unavailable": {"default": ("Obrigado pelo carrinho, {first_name}! Não consigo gerar o link de "
                                         "pagamento por aqui; digite HUMAN e nossa equipe fecha o seu pedido.",)},
    },
    "hi": {
        "greet": {"default": ("नमस्ते {first_name}! {store_name} में आपका स्वागत है। आज हम आपकी क्या मदद कर "
                              "सकते हैं?",)},
        "thanks": {"default": ("कोई बात नहीं, {first_name}! क्या हम आपकी और कोई मदद कर सकते हैं?",)},
        "stop": {"default": ("आपको अनसब्सक्राइब कर दिया गया है: अब {store_name} की ओर से आपको ऑफ़र या रिमाइंडर "
                             "नहीं भेजे जाएँगे। दोबारा जुड़ने के लिए कभी भी START लिखें।",)},
        "start": {"default": ("आपका फिर से स्वागत है, {first_name}! अब आपको {store_name} से दोबारा मैसेज मिलेंगे। "
                              "मैसेज बंद करने के लिए कभी भी STOP लिखें।",)},
        "human": {"default": ("धन्यवाद {first_name}। हमने अपनी टीम के एक सदस्य को बुला लिया है; वे जल्द ही यहीं "
                              "जवाब देंगे।",)},
        "fallback": {"default": ("माफ़ कीजिए, आपकी बात ठीक से समझ नहीं आई। आप अपने ऑर्डर का स्टेटस पूछ सकते हैं, "
                                 "दोबारा ऑर्डर कर सकते हैं, कोई सुझाव ले सकते हैं, या हमारी टीम से बात करने के "
                                 "लिए HUMAN लिख सकते हैं।",)},
        "media": {"default": ("धन्यवाद! फ़िलहाल हम सिर्फ़ टेक्स्ट मैसेज ही पढ़ पाते हैं। क्या आप अपना सवाल लिखकर "
                              "भेज सकते हैं?",)},
        "order_status": {"default": (
            "आपका पिछला ऑर्डर {last_order_name} ({last_order_items}) {order_status}। इसे यहाँ ट्रैक करें: "
            "{tracking_url}",
            "आपका पिछला ऑर्डर {last_order_name} ({last_order_items}) {order_status}।",
        )},
        "no_orders": {"default": ("इस नंबर पर अभी तक कोई ऑर्डर नहीं मिला, {first_name}। अगर आपने किसी दूसरे फ़ोन "
                                  "नंबर से ऑर्डर किया था, तो HUMAN लिखें, हमारी टीम पता कर लेगी।",)},
        "reorder": {"default": ("आपका पिछला ऑर्डर {last_order_name}: {last_order_items}। इसे फिर से मँगाने के "
                                "लिए \"दोबारा ऑर्डर करें\" पर टैप करें।",)},
        "reorder_link": {"default": ("ये रहा आपका कार्ट, उन्हीं प्रोडक्ट्स के साथ। बस चेकआउट करें: {cart_url}",)},
        "reorder_unavailable": {"default": ("माफ़ कीजिए {first_name}, इस ऑर्डर से कार्ट नहीं बन पाया। HUMAN लिखें, "
                                            "हमारी टीम दोबारा ऑर्डर करने में आपकी मदद करेगी।",)},
        "recommend": {"default": ("आप जैसी ख़रीदारी करने वाले ग्राहकों ने {product_title} को भी ख़ूब पसंद "
                                  "किया।",)},
        "recommend_popular": {"default": ("इन दिनों हमारे ग्राहकों के फ़ेवरेट: {product_title}।",)},
        "recommend_cart": {"default": ("ये रहा आपका कार्ट, {product_title} के साथ। बस चेकआउट करें: {cart_url}",)},
        "no_recommendations": {"default": ("अभी आपके लिए कोई सुझाव नहीं है, {first_name}। HUMAN लिखें, हमारी टीम "
                                           "ख़ुशी से आपकी मदद करेगी।",)},
        "sale": {
            "default": ("{first_name}, हमारी अगली सेल शुरू होते ही सबसे पहले आपको यहीं बताएँगे।",),
            "sale_shopper": ("{first_name}, आपके लिए अर्ली एक्सेस: सेल सबके लिए शुरू होने से पहले ही चेकआउट पर "
                             "{discount_code} कोड लगाएँ।",),
        },
        "preferences": {"default": ("{first_name}, आपको क्या पसंद है? कोई एक चुनें, ताकि हम आपको आपकी पसंद की ही "
                                    "चीज़ें भेजें।",)},
        "preferences_saved": {"default": ("नोट कर लिया, शुक्रिया {first_name}! हम इसका ध्यान रखेंगे।",)},
        "preferences_unavailable": {"default": ("शुक्रिया {first_name}! अभी चुनने के लिए कुछ नहीं है।",)},
        "handoff_timeout": {"default": ("इंतज़ार करवाने के लिए माफ़ कीजिए, {first_name}। अभी हमारी टीम आप तक नहीं "
                                        "पहुँच पाई। मैं फिर से आपकी मदद के लिए यहाँ हूँ, या किसी व्यक्ति से बात "
                                        "करने के लिए दोबारा HUMAN लिखें।",)},
        "assistant_unavailable": {"default": ("माफ़ कीजिए {first_name}, हमारा असिस्टेंट थोड़ी देर के लिए उपलब्ध "
                                              "नहीं है। आपका मैसेज हमारी टीम तक पहुँचा दिया है, वे यहीं जवाब "
                                              "देंगे।",)},
        "language": {"default": ("हो गया, {first_name}! अब से आपको हिन्दी में जवाब मिलेंगे।",)},
        "language_unavailable": {"default": ("माफ़ कीजिए, अभी हम सिर्फ़ {languages} में बात कर सकते हैं।",)},
        "cod_confirmed": {"default": ("धन्यवाद {first_name}! आपका ऑर्डर {last_order_name} कन्फ़र्म हो गया "
                                      "है: हम इसे जल्द भेजेंगे और आप डिलीवरी पर पेमेंट करेंगे।",)},
        "cod_cancelled": {"default": ("ठीक है: आपका ऑर्डर {last_order_name} कैंसिल कर दिया गया है और भेजा "
                                      "नहीं जाएगा। मन बदले तो यहीं लिखें।",)},
        "cod_unknown": {"default": ("मुझे आपकी पुष्टि का इंतज़ार करता कोई ऑर्डर नहीं मिला, {first_name}। "
                                    "HUMAN लिखें, हमारी टीम देख लेगी।",)},
        "cart_link": {"default": (
            "ये आइटम हमारी दुकान में नहीं मिले: {missing_items}। बाकी कार्ट चेकआउट के लिए तैयार है: {cart_url}",
            "ये रहा आपका कार्ट, चेकआउट के लिए तैयार: {cart_url}",
        )},
        "cart_unknown": {"default": (
            "माफ़ कीजिए {first_name}, ये आइटम हमारी दुकान में नहीं मिले: {missing_items}। HUMAN लिखें, हमारी टीम "
            "ऑर्डर करने में आपकी मदद करेगी।",
            "माफ़ कीजिए {first_name}, आपके कार्ट के आइटम पढ़े नहीं जा सके। HUMAN लिखें, हमारी टीम ऑर्डर करने में "
            "आपकी मदद करेगी।",
        )},
        "cart_unavailable": {"default": ("कार्ट भेजने के लिए शुक्रिया, {first_name}! यहाँ से चेकआउट लिंक नहीं बन "
                                         "सकता; HUMAN लिखें, हमारी टीम आपका ऑर्डर ले लेगी।",)},
    },
    "id": {
        "greet": {"default": ("Halo, Kak {first_name}! Selamat datang di {store_name}. Ada yang bisa kami bantu "
                              "hari ini?",)},
        "thanks": {"default": ("Sama-sama, Kak {first_name}! Ada lagi yang bisa kami bantu?",)},
        "stop": {"default": ("Oke, Kakak sudah berhenti berlangganan: {store_name} tidak akan mengirim promo atau "
                             "pengingat lagi. Ketik START kapan saja kalau mau berlangganan lagi.",)},
        "start": {"default": ("Selamat datang kembali, Kak {first_name}! Kakak akan dapat kabar dari {store_name} "
                              "lagi. Ketik STOP kapan saja untuk berhenti berlangganan.",)},
        "human": {"default": ("Terima kasih, Kak {first_name}. Kami sudah minta tim kami untuk melanjutkan obrolan "
                              "ini; sebentar lagi mereka balas di sini ya.",)},
        "fallback": {"default": ("Maaf, Kak, kami kurang paham maksudnya. Kakak bisa tanya status pesanan, pesan "
                                 "ulang, minta rekomendasi, atau ketik HUMAN untuk bicara dengan tim kami.",)},
        "media": {"default": ("Terima kasih! Untuk sekarang kami baru bisa membaca pesan teks. Boleh diketik "
                              "pertanyaannya, Kak?",)},
        "order_status": {"default": (
            "Pesanan terakhir Kakak {last_order_name} ({last_order_items}) {order_status}. Cek di sini: "
            "{tracking_url}",
            "Pesanan terakhir Kakak {last_order_name} ({last_order_items}) {order_status}.",
        )},
        "no_orders": {"default": ("Kak {first_name}, kami belum menemukan pesanan dengan nomor ini. Kalau Kakak "
                                  "pesan pakai nomor HP lain, ketik HUMAN ya, nanti tim kami bantu cek.",)},
        "reorder": {"default": ("Pesanan terakhir Kakak {last_order_name}: {last_order_items}. Tinggal ketuk "
                                "\"Pesan lagi\" kalau mau pesan yang sama.",)},
        "reorder_link": {"default": ("Ini keranjang Kakak dengan produk yang sama, tinggal checkout: "
                                     "{cart_url}",)},
        "reorder_unavailable": {"default": ("Maaf, Kak {first_name}, keranjang untuk pesanan itu belum bisa kami "
                                            "siapkan. Ketik HUMAN ya, nanti tim kami bantu Kakak pesan ulang.",)},
        "recommend": {"default": ("Pelanggan yang membeli produk yang sama dengan Kakak juga suka "
                                  "{product_title}.",)},
        "recommend_popular": {"default": ("Favorit pelanggan kami saat ini: {product_title}.",)},
        "recommend_cart": {"default": ("{product_title} sudah masuk keranjang Kakak, tinggal checkout: "
                                       "{cart_url}",)},
        "no_recommendations": {"default": ("Maaf, Kak {first_name}, kami belum punya rekomendasi yang pas untuk "
                                           "Kakak. Ketik HUMAN ya, tim kami siap bantu dengan senang hati.",)},
        "sale": {
            "default": ("Kak {first_name}, nanti kami kabari duluan di sini begitu promo berikutnya dimulai ya.",),
            "sale_shopper": ("Kak {first_name}, ini akses lebih awal khusus buat Kakak: pakai kode {discount_code} "
                             "saat checkout sebelum promonya dibuka untuk umum.",),
        },
        "preferences": {"default": ("Kak {first_name}, tertarik dengan apa nih? Pilih salah satu ya, biar kami "
                                    "kirim info yang sesuai minat Kakak.",)},
        "preferences_saved": {"default": ("Siap, terima kasih Kak {first_name}! Kami catat ya.",)},
        "preferences_unavailable": {"default": ("Terima kasih, Kak {first_name}! Untuk sekarang belum ada pilihan "
                                                "yang tersedia.",)},
        "handoff_timeout": {"default": ("Mohon maaf sudah menunggu, Kak {first_name}. Tim kami belum bisa membalas "
                                        "sekarang. Kami bantu lagi di sini ya, atau ketik HUMAN lagi kalau mau "
                                        "dilayani langsung oleh tim kami.",)},
        "assistant_unavailable": {"default": ("Maaf, Kak {first_name}, asisten otomatis kami sedang tidak aktif "
                                              "sebentar. Pesan Kakak sudah kami teruskan ke tim, nanti mereka balas "
                                              "di sini ya.",)},
        "language": {"default": ("Siap, Kak {first_name}! Mulai sekarang kami balas pakai bahasa Indonesia ya.",)},
        "language_unavailable": {"default": ("Maaf, Kak, untuk saat ini kami baru bisa melayani dalam "
                                             "{languages}.",)},
        "cod_confirmed": {"default": ("Terima kasih, Kak {first_name}! Pesanan {last_order_name} sudah "
                                      "dikonfirmasi: segera kami kirim dan dibayar saat barang sampai.",)},
        "cod_cancelled": {"default": ("Oke, pesanan {last_order_name} sudah dibatalkan dan tidak akan "
                                      "dikirim. Kabari kami di sini kalau berubah pikiran ya.",)},
        "cod_unknown": {"default": ("Maaf Kak {first_name}, kami tidak menemukan pesanan yang menunggu konfirmasi. Ketik "
                                    "HUMAN dan tim kami akan mengecek.",)},
        "cart_link": {"default": (
            "Maaf, Kak, produk ini tidak ada di toko kami: {missing_items}. Sisa keranjang Kakak sudah siap, "
            "tinggal checkout: {cart_url}",
            "Keranjang Kakak sudah siap, tinggal checkout: {cart_url}",
        )},
        "cart_unknown": {"default": (
            "Maaf, Kak {first_name}, produk ini tidak ada di toko kami: {missing_items}. Ketik HUMAN ya, tim kami "
            "siap bantu pesanan Kakak.",
            "Maaf, Kak {first_name}, isi keranjang Kakak belum bisa kami baca. Ketik HUMAN ya, tim kami siap bantu "
            "pesanan Kakak.",
        )},
        "cart_unavailable": {"default": ("Terima kasih keranjangnya, Kak {first_name}! Link checkout belum bisa kami "
                                         "buat di sini; ketik HUMAN ya, tim kami bantu pesanan Kakak.",)},
    },
}

# segments.orders.order_status() phrases, each completing "<last order> (<items>) {order_status}." in
# its language: English "is ...", the others a whole predicate ("va en camino", "está a caminho").
ORDER_STATUS: dict[str, dict[str, str]] = {
    "en": {
        "cancelled": "cancelled",
        "delivered": "delivered",
        "out for delivery": "out for delivery",
        "refunded": "refunded",
        "on its way": "on its way",
        "shipped": "shipped",
        "partly shipped": "partly shipped",
        "awaiting payment": "awaiting payment",
        "being prepared": "being prepared",
    },
    "es": {
        "cancelled": "fue cancelado",
        "delivered": "ya fue entregado",
        "out for delivery": "sale hoy a reparto",
        "refunded": "fue reembolsado",
        "on its way": "va en camino",
        "shipped": "ya fue enviado",
        "partly shipped": "se envió en parte",
        "awaiting payment": "está pendiente de pago",
        "being prepared": "se está preparando",
    },
    "pt": {
        "cancelled": "foi cancelado",
        "delivered": "já foi entregue",
        "out for delivery": "saiu para entrega hoje",
        "refunded": "foi reembolsado",
        "on its way": "está a caminho",
        "shipped": "já foi enviado",
        "partly shipped": "foi enviado parcialmente",
        "awaiting payment": "está aguardando pagamento",
        "being prepared": "está sendo preparado",
    },
    "hi": {
        "cancelled": "कैंसिल हो गया है",
        "delivered": "डिलीवर हो गया है",
        "out for delivery": "आज डिलीवरी के लिए निकला है",
        "refunded": "रिफ़ंड हो गया है",
        "on its way": "रास्ते में है",
        "shipped": "शिप हो गया है",
        "partly shipped": "आंशिक रूप से शिप हो गया है",
        "awaiting payment": "पेमेंट के इंतज़ार में है",
        "being prepared": "तैयार किया जा रहा है",
    },
    "id": {
        "cancelled": "sudah dibatalkan",
        "delivered": "sudah diterima",
        "out for delivery": "sedang diantar kurir hari ini",
        "refunded": "dananya sudah dikembalikan",
        "on its way": "sedang dalam perjalanan",
        "shipped": "sudah dikirim",
        "partly shipped": "sudah dikirim sebagian",
        "awaiting payment": "masih menunggu pembayaran",
        "being prepared": "sedang disiapkan",
    },
}

# Button and list-button titles at most 20 characters, section titles at most 24, row descriptions at
# most 72 once {count} is filled (WhatsApp's limits). `and` joins the last of a list of titles.
# `no_name` stands in for a missing {first_name}: "there" ("Hi there!"), "जी" ("नमस्ते जी!"). Spanish and
# Portuguese have no such word and Indonesian needs none ("Halo, Kak!"): there it is empty, and the
# texts are written so that the name goes with the comma that sets it off ("¡Hola, {first_name}!" ->
# "¡Hola!", "Lo siento, {first_name}, no pude..." -> "Lo siento, no pude...").
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "reorder_button": "Reorder",
        "cod_confirm": "Confirm",
        "cod_cancel": "Cancel",
        "choose": "Choose",
        "see_suggestions": "See suggestions",
        "bought_by": "Bought by {count} customers like you",
        "bought_by_one": "Bought by 1 customer like you",
        "favourite_of": "A favourite of {count} customers",
        "favourite_of_one": "A favourite of 1 customer",
        "and": " and ",
        "languages_section": "Language",
        "interests_section": "Interests",
        "catalog_header": "Picked for you",
        "like_you_section": "Customers like you",
        "favourites_section": "Our favourites",
        "and_more": "{count} more",
        "no_name": "there",
        "no_name_in_template": "there",  # a template parameter may not be empty
    },
    "es": {
        "reorder_button": "Pedir de nuevo",
        "cod_confirm": "Confirmar",
        "cod_cancel": "Cancelar",
        "choose": "Elegir",
        "see_suggestions": "Ver sugerencias",
        "bought_by": "Lo compraron {count} clientes como tú",
        "bought_by_one": "Lo compró 1 cliente como tú",
        "favourite_of": "Favorito de {count} clientes",
        "favourite_of_one": "Favorito de 1 cliente",
        "and": " y ",
        "languages_section": "Idioma",
        "interests_section": "Intereses",
        "catalog_header": "Elegidos para ti",
        "like_you_section": "Clientes como tú",
        "favourites_section": "Nuestros favoritos",
        "and_more": "{count} más",
        "no_name": "",
        "no_name_in_template": "cliente",  # a template parameter may not be empty
    },
    "pt": {
        "reorder_button": "Pedir de novo",
        "cod_confirm": "Confirmar",
        "cod_cancel": "Cancelar",
        "choose": "Escolher",
        "see_suggestions": "Ver sugestões",
        "bought_by": "Comprado por {count} clientes como você",
        "bought_by_one": "Comprado por 1 cliente como você",
        "favourite_of": "Favorito de {count} clientes",
        "favourite_of_one": "Favorito de 1 cliente",
        "and": " e ",
        "languages_section": "Idioma",
        "interests_section": "Interesses",
        "catalog_header": "Escolhidos para você",
        "like_you_section": "Clientes como você",
        "favourites_section": "Nossos favoritos",
        "and_more": "mais {count}",
        "no_name": "",
        "no_name_in_template": "cliente",  # a template parameter may not be empty
    },
    "hi": {
        "reorder_button": "दोबारा ऑर्डर करें",
        "cod_confirm": "पुष्टि करें",
        "cod_cancel": "रद्द करें",
        "choose": "चुनें",
        "see_suggestions": "सुझाव देखें",
        "bought_by": "आप जैसे {count} ग्राहकों ने ख़रीदा",
        "bought_by_one": "आप जैसे 1 ग्राहक ने ख़रीदा",
        "favourite_of": "{count} ग्राहकों की पसंद",
        "favourite_of_one": "1 ग्राहक की पसंद",
        "and": " और ",
        "languages_section": "भाषा",
        "interests_section": "आपकी पसंद",
        "catalog_header": "आपके लिए चुने गए",
        "like_you_section": "आप जैसे ग्राहकों की पसंद",
        "favourites_section": "हमारे फ़ेवरेट",
        "and_more": "{count} और",
        "no_name": "जी",
        "no_name_in_template": "ग्राहक",  # a template parameter may not be empty
    },
    "id": {
        "reorder_button": "Pesan lagi",
        "cod_confirm": "Konfirmasi",
        "cod_cancel": "Batalkan",
        "choose": "Pilih",
        "see_suggestions": "Lihat rekomendasi",
        "bought_by": "Dibeli {count} pelanggan seperti Kakak",
        "bought_by_one": "Dibeli 1 pelanggan seperti Kakak",
        "favourite_of": "Favorit {count} pelanggan",
        "favourite_of_one": "Favorit 1 pelanggan",
        "and": " dan ",
        "languages_section": "Bahasa",
        "interests_section": "Minat",
        "catalog_header": "Pilihan untuk Kakak",
        "like_you_section": "Pelanggan seperti Kakak",
        "favourites_section": "Favorit kami",
        "and_more": "{count} lainnya",
        "no_name": "",
        "no_name_in_template": "Kak",  # a template parameter may not be empty
    },
}

# Each language's name in itself, for the rows of a language list (bot/core/languages.py has them all).
ENDONYMS: dict[str, str] = {code: languages.ENDONYMS[code] for code in LANGUAGES}
